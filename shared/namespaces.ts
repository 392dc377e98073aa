/** Socket.IO namespaces of the public contract. `/` accepts every message type (legacy clients). */
export const ROOT_NAMESPACE = '/' as const;

export const FeatureNamespaces = [
  '/workspace',
  '/chat',
  '/ai',
  '/uploads',
  '/notifications',
  '/streams',
  '/calculations',
] as const;

export type FeatureNamespace = (typeof FeatureNamespaces)[number];
export type NamespaceName = typeof ROOT_NAMESPACE | FeatureNamespace;

export const AllNamespaces: readonly NamespaceName[] = [ROOT_NAMESPACE, ...FeatureNamespaces];
