import type { Feature } from './handlers/context';
import { registerRooms } from './handlers/rooms';
import { registerStatus } from './handlers/status';
import { registerTyping } from './handlers/typing';

/** Every feature module, registered in this order on every gateway. */
export const features: readonly Feature[] = [registerRooms, registerStatus, registerTyping];
