import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Registry, API keys and the ingestion store. Raw SQL on purpose: the ingestion tables are written
 * set-based (COPY + INSERT … ON CONFLICT) and their constraints are the last line of defence for
 * "nothing stored twice, nothing wrong", so they are spelled out rather than derived from entities.
 */
export class CorePipeline1764237600000 implements MigrationInterface {
  name = 'CorePipeline1764237600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE manufacturers (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
        created_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE api_keys (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id  uuid REFERENCES manufacturers(id),
        role             text NOT NULL CHECK (role IN ('admin', 'manufacturer', 'quality', 'researcher', 'auditor')),
        name             text NOT NULL,
        key_prefix       text NOT NULL,
        key_sha256       bytea NOT NULL UNIQUE,
        created_at       timestamptz NOT NULL DEFAULT now(),
        revoked_at       timestamptz,
        -- Only a platform admin may exist outside a tenant; every other role is scoped to one manufacturer.
        CHECK (manufacturer_id IS NOT NULL OR role = 'admin')
      );

      CREATE TABLE products (
        id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id   uuid NOT NULL REFERENCES manufacturers(id),
        name              text NOT NULL,
        udi_di            text NOT NULL,
        risk_class        text NOT NULL,
        jurisdictions     text[] NOT NULL CHECK (jurisdictions <@ ARRAY['EU', 'US', 'CN'] AND cardinality(jurisdictions) > 0),
        ffr_threshold     numeric(4, 3) NOT NULL CHECK (ffr_threshold > 0 AND ffr_threshold < 1),
        premarket_claims  jsonb NOT NULL,
        created_at        timestamptz NOT NULL DEFAULT now(),
        UNIQUE (manufacturer_id, udi_di)
      );

      CREATE TABLE model_versions (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        product_id   uuid NOT NULL REFERENCES products(id),
        version      text NOT NULL,
        released_at  timestamptz NOT NULL,
        notes        text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        UNIQUE (product_id, version)
      );

      CREATE TABLE sites (
        id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id  uuid NOT NULL REFERENCES manufacturers(id),
        site_code        text NOT NULL,
        name             text NOT NULL,
        country          char(2) NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        UNIQUE (manufacturer_id, site_code),
        UNIQUE (id, manufacturer_id)
      );

      -- device_code / source_code are what events carry (deviceId / sourceId), hence globally unique.
      -- Signing secrets are held only as AES-256-GCM ciphertext (iv || tag || ciphertext).
      CREATE TABLE devices (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id    uuid NOT NULL REFERENCES manufacturers(id),
        product_id         uuid NOT NULL REFERENCES products(id),
        site_id            uuid NOT NULL,
        device_code        text NOT NULL UNIQUE,
        software_version   text NOT NULL,
        model_version      text NOT NULL,
        scanner_vendor     text,
        scanner_model      text,
        secret_ciphertext  bytea NOT NULL,
        secret_rotated_at  timestamptz NOT NULL DEFAULT now(),
        created_at         timestamptz NOT NULL DEFAULT now(),
        updated_at         timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (site_id, manufacturer_id) REFERENCES sites(id, manufacturer_id)
      );

      CREATE TABLE data_sources (
        id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id    uuid NOT NULL REFERENCES manufacturers(id),
        site_id            uuid NOT NULL,
        source_code        text NOT NULL UNIQUE,
        name               text NOT NULL,
        kind               text NOT NULL CHECK (kind IN ('cath_lab', 'his', 'registry')),
        secret_ciphertext  bytea NOT NULL,
        secret_rotated_at  timestamptz NOT NULL DEFAULT now(),
        created_at         timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (site_id, manufacturer_id) REFERENCES sites(id, manufacturer_id)
      );

      -- One CT-FFR analysis. patient_key/study_key are HMACs of the site pseudonyms, scoped by site;
      -- the pseudonyms themselves are never stored. kafka_* record where the row came from (traceability).
      CREATE TABLE analyses (
        event_id             uuid PRIMARY KEY,
        manufacturer_id      uuid NOT NULL,
        product_id           uuid NOT NULL,
        device_id            uuid NOT NULL REFERENCES devices(id),
        site_id              uuid NOT NULL REFERENCES sites(id),
        occurred_at          timestamptz NOT NULL,
        received_at          timestamptz NOT NULL DEFAULT now(),
        software_version     text NOT NULL,
        model_version        text NOT NULL,
        patient_key          bytea NOT NULL,
        study_key            bytea NOT NULL,
        age_years            smallint,
        sex                  text,
        bmi                  real,
        scanner_vendor       text,
        scanner_model        text,
        slice_thickness_mm   real,
        tube_voltage_kv      real,
        heart_rate_bpm       real,
        agatston_score       real,
        nitrates             boolean,
        image_quality_score  real,
        status               text NOT NULL CHECK (status IN ('completed', 'rejected', 'failed')),
        rejection_reason     text,
        processing_seconds   real,
        vessel_count         smallint NOT NULL,
        unknown_fields       jsonb,
        kafka_partition      integer NOT NULL,
        kafka_offset         bigint NOT NULL
      );
      CREATE INDEX analyses_tenant_time ON analyses (manufacturer_id, occurred_at DESC, event_id DESC);
      CREATE INDEX analyses_device_time ON analyses (device_id, occurred_at DESC);
      CREATE INDEX analyses_site_patient ON analyses (site_id, patient_key, occurred_at);

      CREATE TABLE analysis_vessels (
        analysis_event_id  uuid NOT NULL REFERENCES analyses(event_id),
        vessel_index       smallint NOT NULL,
        vessel             text NOT NULL CHECK (vessel IN ('LM', 'LAD', 'LCX', 'RCA')),
        segment            smallint CHECK (segment BETWEEN 1 AND 18),
        ct_ffr             real NOT NULL CHECK (ct_ffr >= 0 AND ct_ffr <= 1),
        stenosis_percent   real,
        measurement_point  text,
        PRIMARY KEY (analysis_event_id, vessel_index)
      );

      CREATE TABLE outcomes (
        event_id          uuid PRIMARY KEY,
        manufacturer_id   uuid NOT NULL,
        data_source_id    uuid NOT NULL REFERENCES data_sources(id),
        site_id           uuid NOT NULL REFERENCES sites(id),
        patient_key       bytea NOT NULL,
        type              text NOT NULL CHECK (type IN ('invasive_ffr', 'clinical_event')),
        measured_at       timestamptz,
        vessel            text CHECK (vessel IN ('LM', 'LAD', 'LCX', 'RCA')),
        segment           smallint CHECK (segment BETWEEN 1 AND 18),
        invasive_ffr      real CHECK (invasive_ffr >= 0 AND invasive_ffr <= 1),
        hyperemia         text,
        clinical_event    text,
        occurred_at       timestamptz,
        received_at       timestamptz NOT NULL DEFAULT now(),
        unknown_fields    jsonb,
        kafka_partition   integer NOT NULL,
        kafka_offset      bigint NOT NULL,
        CHECK ((type = 'invasive_ffr' AND measured_at IS NOT NULL AND vessel IS NOT NULL AND invasive_ffr IS NOT NULL)
            OR (type = 'clinical_event' AND clinical_event IS NOT NULL AND occurred_at IS NOT NULL))
      );
      CREATE INDEX outcomes_site_patient ON outcomes (site_id, patient_key);
      CREATE INDEX outcomes_tenant_received ON outcomes (manufacturer_id, received_at);

      CREATE TABLE device_events (
        event_id          uuid PRIMARY KEY,
        manufacturer_id   uuid NOT NULL,
        device_id         uuid NOT NULL REFERENCES devices(id),
        occurred_at       timestamptz NOT NULL,
        received_at       timestamptz NOT NULL DEFAULT now(),
        kind              text NOT NULL CHECK (kind IN ('error', 'crash', 'timeout', 'out_of_range_output', 'license', 'heartbeat')),
        code              text,
        message           text,
        software_version  text,
        unknown_fields    jsonb,
        kafka_partition   integer NOT NULL,
        kafka_offset      bigint NOT NULL
      );
      CREATE INDEX device_events_device_time ON device_events (device_id, occurred_at DESC);

      -- Per consumer-group partition progress, written in the same transaction as the rows it
      -- accounts for: a batch redelivered after a crash is recognised by offset and neither stored nor
      -- counted again, so the counters are exact, not merely at-least-once.
      CREATE TABLE ingestion_partition_progress (
        consumer_group   text NOT NULL,
        topic            text NOT NULL,
        kafka_partition  integer NOT NULL,
        next_offset      bigint NOT NULL,
        received         bigint NOT NULL DEFAULT 0,
        stored           bigint NOT NULL DEFAULT 0,
        duplicates       bigint NOT NULL DEFAULT 0,
        dead_lettered    bigint NOT NULL DEFAULT 0,
        updated_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer_group, topic, kafka_partition)
      );

      -- What went to the DLQ and why, without the payload (it may hold pseudonyms; the DLQ topic has it).
      CREATE TABLE dead_letters (
        id               bigserial PRIMARY KEY,
        topic            text NOT NULL,
        kafka_partition  integer NOT NULL,
        kafka_offset     bigint NOT NULL,
        error_code       text NOT NULL,
        reason           text NOT NULL,
        sender_code      text,
        dead_lettered_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (topic, kafka_partition, kafka_offset)
      );
      CREATE INDEX dead_letters_code_time ON dead_letters (error_code, dead_lettered_at);
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE dead_letters, ingestion_partition_progress, device_events, outcomes, analysis_vessels, analyses,
        data_sources, devices, sites, model_versions, products, api_keys, manufacturers;
    `);
  }
}
