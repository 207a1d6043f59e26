/**
 * @cairn/core/testing — the storage conformance suite (run it from a jest test file of a storage
 * package) and the small workflows and helpers it uses.
 */
export { storageConformance, memoryLogger, type ConformanceOptions } from './conformance';
export { Ledger } from './workflows';
