export * from './errors';
export * from './namespaces';
export * from './catalogue';
export { Cursor, UserStatus } from './messages/define';
export { PresenceUser } from './messages/presence';
