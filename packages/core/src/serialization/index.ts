export * from './serializer';
export * from './thrown';
