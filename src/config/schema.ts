/**
 * The one config schema: every section of /etc/smartscope/config.yaml. Each section's schema lives next to the code
 * that uses it (src/<area>/config.ts) and is registered here.
 */
import { obj, oneOf, str, type Schema } from '../kernel/schema-kit.js';
import { twinSchema, type TwinConfig } from '../sim/config.js';
import { applianceSchema, healthSchema, type ApplianceConfig, type HealthConfig } from '../ops/config.js';
import { modelsSchema, type ModelsConfig } from '../bundles/config.js';
import { recordsSchema, type RecordsConfig } from '../records/config.js';
import { mqttSchema, type MqttConfig } from '../publish/config.js';
import { stageSchema, type StageConfig } from '../stage/config.js';
import { cameraSchema, type CameraConfig } from '../camera/config.js';
import { inferenceSchema, type InferenceConfig } from '../inference/config.js';
import { scanSchema, type ScanConfig } from '../scan/config.js';
import { webSchema, type WebConfig } from '../web/config.js';

export const deviceSchema: Schema = obj('Who this microscope is: used in MQTT topics, records and events.', {
  site: str('Plant or site id.', 'site1', { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
  line: str('Production line id.', 'line1', { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
  id: str('Device id, unique within the line.', 'scope1', { pattern: '^[A-Za-z0-9_-]+$', minLength: 1, maxLength: 64 }),
});

export const loggingSchema: Schema = obj('Logging (pino JSON lines on stdout).', {
  level: oneOf('Lowest level written.', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
});

/** Sections registered by the areas. Add one line per section, and its type to {@link Config}. */
export const sections: Record<keyof Config, Schema> = {
  device: deviceSchema,
  logging: loggingSchema,
  twin: twinSchema,
  appliance: applianceSchema,
  health: healthSchema,
  models: modelsSchema,
  records: recordsSchema,
  mqtt: mqttSchema,
  stage: stageSchema,
  camera: cameraSchema,
  inference: inferenceSchema,
  scan: scanSchema,
  web: webSchema,
};

const { default: _rootDefault, ...root } = obj('smartscope configuration file.', sections);

export const configSchema: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'smartscope configuration',
  ...root,
};

export interface DeviceConfig {
  site: string;
  line: string;
  id: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The whole file after validation (defaults filled in, secrets resolved): one typed field per section. */
export interface Config {
  device: DeviceConfig;
  logging: { level: LogLevel };
  twin: TwinConfig;
  appliance: ApplianceConfig;
  health: HealthConfig;
  models: ModelsConfig;
  records: RecordsConfig;
  mqtt: MqttConfig;
  stage: StageConfig;
  camera: CameraConfig;
  inference: InferenceConfig;
  scan: ScanConfig;
  web: WebConfig;
}
