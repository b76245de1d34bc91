/**
 * The site SDK, as the package's main entry point (`import { Participant } from 'conclave'`). It
 * reaches protocols/ and crypto/ only, never the coordinator (checked by `npm run lint:layers` and
 * by test/package), and loads tfjs only when training starts.
 */
export { Participant, BUILT_IN_PROTOCOLS, type ParticipantOptions, type ParticipantEvent } from './participant.ts';
export { csvData, type CsvDataOptions } from './data/csv.ts';
export { imageFolderData } from './data/images.ts';
export { openSiteData } from './data/open.ts';
export type { SiteData, ModelInput, DataRules } from './data/site-data.ts';
export type { Dataset } from './data/dataset.ts';
export { DP_MODES, type PrivacyFloorOptions, type PrivacySummary, type RefusalReason } from './privacy-policy.ts';
export type { ClientTls } from './connection.ts';
export type { TfBackendPreference } from './tfjs/backend.ts';
export type { LocalTrainer, GlobalModel, LocalTrainingResult } from './training/local-trainer.ts';
export type { TrainProgress, TrainResult } from './training/trainer.ts';
export { ConclaveError } from '../protocols/errors.ts';
export { collectTransferBuffersWithHeap } from '../protocols/transfer-heap.ts';
