import { randomBytes } from 'node:crypto';
import { CDM_V54_TABLES, CDM_TABLES } from './cdm-v54';
import { LOCAL_CONCEPT_FLOOR, OMOP_CONCEPTS } from './concepts';
import { buildOmopExport, dateShiftDays, SourceAnalysis } from './omop-export';

function analysis(
  patientId: string,
  day: number,
  ageYears: number | null,
  extra: Partial<SourceAnalysis> = {},
) {
  return {
    eventId: `${patientId}-${day}`,
    patientId,
    occurredAt: new Date(Date.UTC(2026, 0, day, 15, 30)),
    ageYears,
    sex: 'F',
    status: 'completed',
    softwareVersion: '1.4.2',
    modelVersion: 'ffrnet-2025.1',
    vessels: [{ vessel: 'LAD', ctFfr: 0.74 }],
    ...extra,
  };
}

describe('buildOmopExport', () => {
  const product = { udiDi: '06970000000001', name: 'CT-FFR' };

  it('shifts dates by −182 … +182 days, uniformly enough to use the whole range', () => {
    const key = randomBytes(32);
    const shifts = Array.from({ length: 5000 }, (_, i) => dateShiftDays(key, `patient-${i}`));
    expect(Math.min(...shifts)).toBe(-182);
    expect(Math.max(...shifts)).toBe(182);
    expect(Math.abs(shifts.reduce((a, b) => a + b, 0) / shifts.length)).toBeLessThan(6);
  });

  it('keeps intervals, drops times, top-codes age at 90 and leaves out persons without an age', () => {
    const key = randomBytes(32);
    const built = buildOmopExport({
      key,
      product,
      analyses: [
        analysis('s:p1', 1, 95),
        analysis('s:p1', 21, 95, { status: 'rejected', vessels: [] }),
        analysis('s:p2', 3, null),
      ],
      invasiveFfr: [
        {
          eventId: 'o1',
          patientId: 's:p1',
          measuredAt: new Date(Date.UTC(2026, 0, 11, 8)),
          vessel: 'LAD',
          value: 0.78,
          hyperemia: 'adenosine_iv',
        },
      ],
    });
    expect(built.manifest).toMatchObject({ persons: 1, personsWithoutAge: 1 });
    const [person] = built.tables.person;
    const procedures = built.tables.procedure_occurrence;
    expect(procedures).toHaveLength(2);
    const day = (text: unknown) => Date.parse(String(text)) / 86_400_000;
    expect(day(procedures[1].procedure_date) - day(procedures[0].procedure_date)).toBe(20);
    const invasive = built.tables.measurement.find(
      (row) => row.measurement_concept_id === OMOP_CONCEPTS.invasiveFfr.conceptId,
    )!;
    expect(day(invasive.measurement_date) - day(procedures[0].procedure_date)).toBe(10);
    expect(Number(String(procedures[0].procedure_date).slice(0, 4)) - Number(person.year_of_birth)).toBe(90);
    // The rejected analysis is a procedure and a device exposure, but has no CT-FFR measurement.
    expect(
      built.tables.measurement.filter((row) => row.measurement_concept_id === OMOP_CONCEPTS.ctFfr.conceptId),
    ).toHaveLength(1);
    for (const table of CDM_TABLES) {
      for (const row of built.tables[table]) {
        expect(Object.keys(row)).toEqual(CDM_V54_TABLES[table].map((column) => column.name));
        for (const [name, value] of Object.entries(row)) {
          if (name.endsWith('datetime')) expect(value).toBeNull();
          if (typeof value === 'string') expect(value).not.toContain('s:p');
        }
      }
    }
  });

  it('gives the same tables for the same key and unlinkable ones for another', () => {
    const analyses = Array.from({ length: 40 }, (_, i) => analysis(`s:p${i}`, 1 + (i % 28), 60));
    const key = randomBytes(32);
    const first = buildOmopExport({ key, product, analyses, invasiveFfr: [] });
    expect(buildOmopExport({ key, product, analyses: [...analyses].reverse(), invasiveFfr: [] })).toEqual(
      first,
    );
    const other = buildOmopExport({ key: randomBytes(32), product, analyses, invasiveFfr: [] });
    const same = first.tables.procedure_occurrence.filter(
      (row, i) => row.procedure_date === other.tables.procedure_occurrence[i].procedure_date,
    ).length;
    expect(same).toBeLessThan(5);
  });

  it('uses local concept ids only from the local range', () => {
    for (const entry of Object.values(OMOP_CONCEPTS)) {
      if (entry.kind === 'local') expect(entry.conceptId).toBeGreaterThanOrEqual(LOCAL_CONCEPT_FLOOR);
      else expect(entry.conceptId).toBeLessThan(LOCAL_CONCEPT_FLOOR);
    }
  });
});
