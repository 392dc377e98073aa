import { z } from 'zod';
import { defineClientMessages, defineServerMessages, message } from './define';

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

export const calculationClientMessages = defineClientMessages('/calculations', {
  /** Seed 000's untyped request `{chart_id, calculation_type, parameters}`; the result is the ack. */
  calculate: message({
    schema: z.object({
      chart_id: z.string().min(1).max(128),
      calculation_type: CalculationType,
      parameters: z.record(z.unknown()).default({}),
    }),
    rate: 'request',
    ack: z.object({ result: z.unknown() }),
  }),
});

export const calculationServerMessages = defineServerMessages('/calculations', {});
