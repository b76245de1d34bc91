import type * as grpc from '@grpc/grpc-js';
import { ConclaveError, TensorAssembler, type CreateFederationStreamMsg, type FederationMsg } from '../protocols/index.ts';
import { configFromMessage, parseFederationConfig } from './federation-config.ts';
import { checkTopology } from './model-topology.ts';
import type { FederationRecord, Federations } from './federations.ts';

export type CreateFederationCall = grpc.ServerReadableStream<CreateFederationStreamMsg, FederationMsg>;

/**
 * CreateFederation's stream: one header (config, topology, tensor header), then version 0's weights
 * in ~1 MiB chunks. The config and the topology are checked on the header, before any weight is
 * received, so a bad one costs no upload; the weights get the checks of every tensor stream
 * (layout, finiteness per chunk, digest at the end). Nothing is stored until all of it passed.
 */
export async function receiveFederation(federations: Federations, call: CreateFederationCall): Promise<FederationRecord> {
  let header: { config: unknown; topologyJson: string } | null = null;
  let assembler: TensorAssembler | null = null;
  for await (const msg of call as AsyncIterable<CreateFederationStreamMsg>) {
    if (msg.part === 'header') {
      if (header) throw new ConclaveError('MALFORMED_STREAM', 'the CreateFederation stream carries a second header');
      const { tensor, topologyJson } = msg.header;
      const config = configFromMessage(msg.header.config);
      parseFederationConfig(config);
      checkTopology(topologyJson);
      if (!tensor) throw new ConclaveError('MALFORMED_STREAM', 'the CreateFederation header has no tensor header for the initial weights');
      assembler = new TensorAssembler(
        { layout: tensor.layout, totalElements: tensor.totalElements, sha256: tensor.sha256, chunkCount: tensor.chunkCount },
        { rejectNonFinite: true },
      );
      header = { config, topologyJson };
    } else if (msg.part === 'chunk') {
      if (!assembler) throw new ConclaveError('MALFORMED_STREAM', 'the CreateFederation stream must start with a header');
      assembler.push(msg.chunk);
    } else {
      throw new ConclaveError('MALFORMED_STREAM', 'empty message in the CreateFederation stream');
    }
  }
  if (!header || !assembler) throw new ConclaveError('MALFORMED_STREAM', 'the CreateFederation stream ended without a header');
  const values = assembler.finish();
  return federations.create(header.config, { topologyJson: header.topologyJson, layout: assembler.header.layout, values });
}
