import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Vigilance: complaints, incidents with triage state and IMDRF coding, their append-only history, and due-soon /
 * overdue alerts (issue 5 §2–3; DESIGN.md §5; src/vigilance/README.md).
 *
 * - `complaints`: a clinician complaint as received (POST /complaints); each opens one candidate incident.
 * - `incidents`: the current facts of an incident — state, seriousness and the flags that select clocks, causality,
 *   awareness date (MIR 1.2.c), the classification known at awareness and each piece of new information with the
 *   classification known from its date on (jsonb: the clock timeline), countries, IMDRF codes with the code-table
 *   release they were checked against, the deadlines a decision settled, and `version` for optimistic concurrency.
 *   Deadlines themselves are computed from the rules table on every read; `next_due_by` (the earliest open one) is a
 *   cache for ordering lists and selecting incidents for alerts, rewritten on every change and by the alert job.
 * - `incident_events`: one row per change (creation, triage), append-only (a trigger refuses UPDATE, DELETE,
 *   TRUNCATE): who, when, why, what changed, the state transition, new information with its received date, and a
 *   snapshot of the deadlines after the change. Each row names the audit_log entry written in the same transaction.
 * - `incident_alerts`: one row per incident deadline per urgency (due_soon, overdue); the unique key makes the job
 *   idempotent and safe when several instances run it.
 */
export class Vigilance1764273600000 implements MigrationInterface {
  name = 'Vigilance1764273600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE complaints (
        id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id        uuid NOT NULL REFERENCES manufacturers(id),
        product_id             uuid NOT NULL REFERENCES products(id),
        description            text NOT NULL CHECK (length(description) BETWEEN 1 AND 10000),
        received_date          date NOT NULL,
        received_at            timestamptz,
        countries              text[] NOT NULL CHECK (cardinality(countries) BETWEEN 1 AND 60),
        site_code              text,
        device_code            text,
        reporter_role          text NOT NULL
                               CHECK (reporter_role IN ('physician', 'radiographer', 'nurse', 'technician', 'patient', 'other')),
        reporter_organisation  text CHECK (length(reporter_organisation) BETWEEN 1 AND 200),
        patient_involved       boolean,
        reported_seriousness   text NOT NULL
                               CHECK (reported_seriousness IN ('death', 'serious_deterioration', 'serious_public_health_threat', 'non_serious')),
        created_at             timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX complaints_tenant ON complaints (manufacturer_id, created_at);

      CREATE TABLE incidents (
        id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        manufacturer_id              uuid NOT NULL REFERENCES manufacturers(id),
        product_id                   uuid NOT NULL REFERENCES products(id),
        title                        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
        description                  text CHECK (length(description) BETWEEN 1 AND 10000),
        source                       text NOT NULL CHECK (source IN ('manual', 'complaint', 'detection')),
        complaint_id                 uuid UNIQUE REFERENCES complaints(id),
        state                        text NOT NULL
                                     CHECK (state IN ('candidate', 'under_assessment', 'reportable', 'not_reportable', 'submitted', 'closed')),
        seriousness                  text NOT NULL
                                     CHECK (seriousness IN ('death', 'serious_deterioration', 'serious_public_health_threat', 'non_serious')),
        unanticipated_deterioration  boolean NOT NULL DEFAULT false,
        group_event                  boolean NOT NULL DEFAULT false,
        reportable_malfunction       boolean NOT NULL DEFAULT false,
        remedial_action_required     boolean NOT NULL DEFAULT false,
        fda_written_request          boolean NOT NULL DEFAULT false,
        causality                    text NOT NULL DEFAULT 'not_assessed'
                                     CHECK (causality IN ('not_assessed', 'not_related', 'possible', 'probable', 'causal')),
        awareness_date               date NOT NULL,
        awareness_at                 timestamptz,
        awareness_classification     jsonb NOT NULL CHECK (jsonb_typeof(awareness_classification) = 'object'),
        new_information              jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(new_information) = 'array'),
        countries                    text[] NOT NULL CHECK (cardinality(countries) BETWEEN 1 AND 60),
        imdrf                        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(imdrf) = 'object'),
        imdrf_release                text,
        imdrf_terms                  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(imdrf_terms) = 'array'),
        settled_deadlines            jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(settled_deadlines) = 'array'),
        next_due_by                  timestamptz,
        version                      integer NOT NULL DEFAULT 1 CHECK (version >= 1),
        created_at                   timestamptz NOT NULL DEFAULT now(),
        updated_at                   timestamptz NOT NULL DEFAULT now(),
        CHECK ((source = 'complaint') = (complaint_id IS NOT NULL))
      );
      -- Lists: a tenant's incidents, nearest deadline first (no deadline last), id as tie-breaker.
      CREATE INDEX incidents_tenant_due ON incidents (manufacturer_id, next_due_by ASC NULLS LAST, id);
      CREATE INDEX incidents_tenant_product ON incidents (manufacturer_id, product_id, state);
      -- The alert job's scan: incidents whose clocks may still run.
      CREATE INDEX incidents_watch ON incidents (id) WHERE state <> 'closed' OR next_due_by IS NOT NULL;

      CREATE TABLE incident_events (
        id                bigserial PRIMARY KEY,
        incident_id       uuid NOT NULL REFERENCES incidents(id),
        manufacturer_id   uuid NOT NULL,
        version           integer NOT NULL CHECK (version >= 1),
        kinds             text[] NOT NULL CHECK (
                            cardinality(kinds) > 0
                            AND kinds <@ ARRAY['created', 'new_information', 'reassessment', 'transition', 'coding', 'update']),
        recorded_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
        actor_type        text NOT NULL CHECK (actor_type IN ('api_key', 'system')),
        actor_api_key_id  uuid,
        actor_role        text,
        reason            text CHECK (length(reason) BETWEEN 1 AND 2000),
        from_state        text,
        to_state          text,
        received_date     date,
        received_at       timestamptz,
        summary           text,
        changed           text[] NOT NULL DEFAULT '{}',
        deadlines         jsonb NOT NULL DEFAULT '[]',
        audit_entry_id    bigint REFERENCES audit_log(id),
        UNIQUE (incident_id, version),
        CHECK ((actor_type = 'api_key') = (actor_api_key_id IS NOT NULL)),
        CHECK ((from_state IS NULL) = (to_state IS NULL))
      );

      CREATE FUNCTION incident_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'incident_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$;
      CREATE TRIGGER incident_events_append_only BEFORE UPDATE OR DELETE ON incident_events
        FOR EACH ROW EXECUTE FUNCTION incident_events_refuse_change();
      CREATE TRIGGER incident_events_no_truncate BEFORE TRUNCATE ON incident_events
        FOR EACH STATEMENT EXECUTE FUNCTION incident_events_refuse_change();
      REVOKE UPDATE, DELETE, TRUNCATE ON incident_events FROM PUBLIC;

      CREATE TABLE incident_alerts (
        id               bigserial PRIMARY KEY,
        manufacturer_id  uuid NOT NULL,
        product_id       uuid NOT NULL,
        incident_id      uuid NOT NULL REFERENCES incidents(id),
        urgency          text NOT NULL CHECK (urgency IN ('due_soon', 'overdue')),
        jurisdiction     text NOT NULL,
        rule_id          text NOT NULL,
        rule             text NOT NULL,
        country          char(2) NOT NULL,
        due_at           text NOT NULL,
        due_by           timestamptz NOT NULL,
        hours_remaining  double precision NOT NULL,
        evaluated_at     timestamptz NOT NULL,
        created_at       timestamptz NOT NULL DEFAULT now(),
        UNIQUE (incident_id, rule_id, country, due_by, urgency)
      );
      CREATE INDEX incident_alerts_tenant ON incident_alerts (manufacturer_id, id DESC);
      CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id, id DESC);

      -- Row-level security (migration 1764277200000-RowLevelSecurity) puts its tenant_isolation policy on every
      -- table with a manufacturer_id when it runs. On a database where it ran before this migration (it landed
      -- first), these tables get the same policy and grants here; on a fresh database it adds them itself.
      DO $$
      DECLARE
        tenant_table text;
      BEGIN
        IF to_regprocedure('fieldwatch_tenant_visible(uuid)') IS NOT NULL THEN
          FOREACH tenant_table IN ARRAY ARRAY['complaints', 'incidents', 'incident_events', 'incident_alerts'] LOOP
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', tenant_table);
            EXECUTE format(
              'CREATE POLICY tenant_isolation ON %I USING (fieldwatch_tenant_visible(manufacturer_id)) '
              'WITH CHECK (fieldwatch_tenant_visible(manufacturer_id))',
              tenant_table);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO fieldwatch_app', tenant_table);
          END LOOP;
          GRANT USAGE, SELECT, UPDATE ON SEQUENCE incident_events_id_seq, incident_alerts_id_seq TO fieldwatch_app;
        END IF;
      END
      $$;
    `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP TABLE incident_alerts, incident_events, incidents, complaints;
      DROP FUNCTION incident_events_refuse_change();
    `);
  }
}
