/**
 * The operator's client, as the package's `conclave/admin` entry point: gRPC calls to a
 * coordinator's admin service and the federation config they send. Version 0 of a model is built
 * where tfjs lives (`conclave federation create`, or the site SDK's zoo); this module loads no tfjs.
 */
export { adminClient, callUnary, createFederation, downloadModel, type ClientTls, type DownloadedModel, type ModelArtifacts } from '../protocols/client.ts';
export { configMessage, parseFederationConfig, type FederationConfig, type FederationConfigInput } from './federation-config.ts';
export type { DataSpec, FeatureScaling } from './data-spec.ts';
export type { AdminClient, FederationMsg, RoundMsg, ModelVersionMsg, GetLedgerResponseMsg } from '../protocols/index.ts';
