import { registerAdminApi } from './handlers/admin-api';
import { registerAdminUi } from './handlers/admin-ui';
import { registerAi } from './handlers/ai';
import type { Feature } from './handlers/context';
import { registerCalculations } from './handlers/calculations';
import { registerCells } from './handlers/cells';
import { registerChat } from './handlers/chat';
import { registerConnections } from './handlers/connections';
import { registerCursors } from './handlers/cursors';
import { registerDemo } from './handlers/demo';
import { registerLiveTokens } from './handlers/live-tokens';
import { registerNotifications } from './handlers/notifications';
import { registerRateLimits } from './handlers/rate-limits';
import { registerRooms } from './handlers/rooms';
import { registerRpc } from './handlers/rpc';
import { registerSessions } from './handlers/sessions';
import { registerStatus } from './handlers/status';
import { registerStreams } from './handlers/streams';
import { registerTyping } from './handlers/typing';
import { registerUploads } from './handlers/uploads';

/**
 * Every feature module, registered in this order on every gateway. The guards run in the order
 * their features register them: the token first, then the rate limits.
 */
export const features: readonly Feature[] = [
  registerConnections,
  registerLiveTokens,
  registerRateLimits,
  registerRooms,
  registerStatus,
  registerTyping,
  registerCursors,
  registerCells,
  registerSessions,
  registerChat,
  registerStreams,
  registerCalculations,
  registerRpc,
  registerAi,
  registerNotifications,
  registerUploads,
  registerAdminApi,
  registerAdminUi,
  registerDemo,
];
