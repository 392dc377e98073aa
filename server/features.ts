import type { Feature } from './handlers/context';
import { registerCalculations } from './handlers/calculations';
import { registerCells } from './handlers/cells';
import { registerChat } from './handlers/chat';
import { registerCursors } from './handlers/cursors';
import { registerRooms } from './handlers/rooms';
import { registerSessions } from './handlers/sessions';
import { registerStatus } from './handlers/status';
import { registerStreams } from './handlers/streams';
import { registerTyping } from './handlers/typing';

/** Every feature module, registered in this order on every gateway. */
export const features: readonly Feature[] = [
  registerRooms,
  registerStatus,
  registerTyping,
  registerCursors,
  registerCells,
  registerSessions,
  registerChat,
  registerStreams,
  registerCalculations,
];
