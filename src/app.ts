/**
 * Composition root: the only place that chooses between real and simulated adapters. It builds the parts the
 * appliance daemon (src/ops/appliance.ts) runs.
 *
 * Today every part but the models comes from the digital twin: the camera and stage drivers, the MQTT event sink and
 * the scan engine plug in here through the same factories (camera(), stage(), events(), pipeline(), modelLoader).
 */
import { OrtWorkerModel } from './bundles/ort-worker-model.js';
import type { Config } from './config/schema.js';
import type { ApplianceParts } from './ops/appliance.js';
import { FrameLoopPipeline } from './ops/frame-loop.js';
import type { Logger } from './ops/logger.js';
import { createTwin } from './sim/twin.js';

export async function createApplianceParts(config: Config, log: Logger): Promise<ApplianceParts<OrtWorkerModel>> {
  const twin = await createTwin(config.twin);
  log.child({ module: 'app' }).info({ camera: 'twin', stage: 'twin', sample: twin.sample.id }, 'adapters chosen');
  return {
    camera: () => twin.camera,
    stage: () => twin.directStage,
    modelLoader: (active) => OrtWorkerModel.open(active),
    pipeline: () => new FrameLoopPipeline({ role: 'zoom' }),
  };
}
