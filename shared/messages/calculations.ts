import { z } from 'zod';
import { defineMessages } from './define';

/** Seed 000 (calculations API): request/response calculations on a chart. Served on `/calculations`. */
export const CalculationTypes = [
  'positions',
  'aspects',
  'houses',
  'fixed_stars',
  'arabic_parts',
  'dignities',
  'antiscia',
  'declinations',
  'harmonics',
  'rectification',
] as const;
export const CalculationType = z.enum(CalculationTypes);
export type CalculationType = z.infer<typeof CalculationType>;

export const calculationClientMessages = defineMessages('/calculations', {
  /** Seed 000's untyped request `{chart_id, calculation_type, parameters}`; the result is the ack. */
  calculate: z.object({
    chart_id: z.string().min(1).max(128),
    calculation_type: CalculationType,
    parameters: z.record(z.unknown()).default({}),
  }),
});

export const calculationServerMessages = defineMessages('/calculations', {
  /**
   * Seed 000 keeps one connection per user: a new connection tells the user's older ones, on every
   * pod, that they are replaced (native clients are then closed with 1008 and the reason).
   */
  connection_replaced: z.object({ reason: z.string(), replaced_by: z.string(), connected_at: z.number() }),
});
