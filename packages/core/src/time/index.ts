export * from './clock';
export * from './duration';
