/**
 * What a periodic report contains and when it is due, as data with its legal source (DESIGN.md §7). The builders
 * (report-builder.ts) fill these sections in exactly this order; the schema (report-schema.ts) and the renderers
 * read the same tables, so the order cannot drift between the JSON, the HTML and the PDF.
 */
import { JURISDICTION_COUNTRIES } from '../vigilance/reporting-clock-rules';

export const REPORT_TYPES = ['psur', 'nmpa-periodic-risk'] as const;
export type ReportType = (typeof REPORT_TYPES)[number];

export interface SectionRule {
  /** Key of the section in the report JSON. */
  key: string;
  number: string;
  title: string;
  /** NMPA: the heading in Chinese, shown beside the English one. */
  titleZh?: string;
  source: string;
}

/**
 * EU PSUR: MDCG 2022-21 (Dec 2022) Annex I template, sections 1–10 in order (reference/regulatory.md §1.2 [V]);
 * content per MDR Art. 86(1).
 */
export const PSUR_SECTIONS: readonly SectionRule[] = [
  { key: 'cover', number: '1', title: 'Cover page', source: 'MDCG 2022-21 Annex I §1' },
  { key: 'executiveSummary', number: '2', title: 'Executive summary', source: 'MDCG 2022-21 Annex I §2' },
  {
    key: 'devices',
    number: '3',
    title: 'Description of the devices covered and their intended use',
    source: 'MDCG 2022-21 Annex I §3; MDR Art. 86(1)',
  },
  { key: 'grouping', number: '4', title: 'Grouping of devices', source: 'MDCG 2022-21 Annex I §4' },
  {
    key: 'volumeOfSales',
    number: '5',
    title: 'Volume of sales (volume of use)',
    source: 'MDCG 2022-21 Annex I §5, Annex II Table 1; MDR Art. 86(1)(c)',
  },
  {
    key: 'population',
    number: '6',
    title: 'Population using the device',
    source: 'MDCG 2022-21 Annex I §6, Annex II Tables 2–3; MDR Art. 86(1)(c)',
  },
  {
    key: 'vigilance',
    number: '7',
    title: 'Vigilance: serious incidents, trend reporting, FSCA and CAPA',
    source: 'MDCG 2022-21 Annex I §7, Annex II Tables 4–8; MDR Art. 87, 88, 83(3)',
  },
  {
    key: 'generalPms',
    number: '8',
    title: 'General post-market surveillance information (including real-world performance)',
    source: 'MDCG 2022-21 Annex I §8',
  },
  {
    key: 'pmcf',
    number: '9',
    title: 'Post-market clinical follow-up (PMCF) main findings',
    source: 'MDCG 2022-21 Annex I §9; MDR Art. 86(1)(b)',
  },
  {
    key: 'conclusions',
    number: '10',
    title: 'Summary and conclusions',
    source: 'MDCG 2022-21 Annex I §10; MDR Art. 86(1)(a)',
  },
];

/**
 * NMPA periodic risk evaluation report (定期风险评价报告): sections of 《医疗器械定期风险评价报告撰写规范》 as listed in the
 * consultation draft (reference/regulatory.md §3.2 [S]; the final 2020 text is not verified — see its open items).
 */
export const NMPA_SECTIONS: readonly SectionRule[] = [
  {
    key: 'productInformation',
    number: '1',
    title: 'Basic product information',
    titleZh: '产品基本信息',
    source: '撰写规范 §1',
  },
  {
    key: 'marketingStatus',
    number: '2',
    title: 'Marketing status in China and abroad',
    titleZh: '国内外上市情况',
    source: '撰写规范 §2',
  },
  {
    key: 'previousRiskControl',
    number: '3',
    title: 'Previous risk-control measures',
    titleZh: '既往风险控制措施',
    source: '撰写规范 §3',
  },
  {
    key: 'salesAndUse',
    number: '4',
    title: 'Sales volume and estimated number of device uses, with the estimation method',
    titleZh: '市场销售数量及用械人次数估算资料',
    source: '撰写规范 §4',
  },
  {
    key: 'adverseEvents',
    number: '5',
    title: 'Adverse event reports',
    titleZh: '不良事件报告信息',
    source: '撰写规范 §5; 《医疗器械不良事件监测和再评价管理办法》',
  },
  {
    key: 'riskResearch',
    number: '6',
    title: 'Risk-related research (real-world performance against invasive FFR)',
    titleZh: '风险相关的研究信息',
    source: '撰写规范 §6',
  },
  {
    key: 'otherRisk',
    number: '7',
    title: 'Other risk information',
    titleZh: '其他风险信息',
    source: '撰写规范 §7',
  },
  {
    key: 'riskEvaluation',
    number: '8',
    title: 'Product risk evaluation',
    titleZh: '产品风险评价',
    source: '撰写规范 §8',
  },
  { key: 'conclusions', number: '9', title: 'Conclusions', titleZh: '结论', source: '撰写规范 §9' },
  { key: 'annexes', number: '10', title: 'Annexes', titleZh: '附件', source: '撰写规范 §10' },
];

export const SECTIONS: Record<ReportType, readonly SectionRule[]> = {
  psur: PSUR_SECTIONS,
  'nmpa-periodic-risk': NMPA_SECTIONS,
};

export const REPORT_TITLES: Record<ReportType, { en: string; zh?: string }> = {
  psur: { en: 'Periodic Safety Update Report (PSUR)' },
  'nmpa-periodic-risk': { en: 'Periodic Risk Evaluation Report', zh: '医疗器械定期风险评价报告' },
};

/**
 * PSUR frequency by risk class, MDR Art. 86(1)–(2) as restated in MDCG 2022-21 (reference/regulatory.md §1.1 [V]):
 * class III and IIb at least annually, class IIa when necessary and at least every two years, class I none (Art. 85
 * PMS report instead). Rolling-window length of the data tables follows the same period (Annex III: 24-month windows
 * for class IIa).
 */
export const PSUR_PERIOD_MONTHS: Record<string, number | null> = {
  III: 12,
  IIb: 12,
  IIa: 24,
  I: null,
};

/**
 * NMPA: the previous year's report is completed within 60 days after each full registration year during the first
 * registration cycle (reference/regulatory.md §3.2, §7 "CN PRER" [S]).
 */
export const NMPA_REPORT_DUE_DAYS_AFTER_YEAR = 60;

/** Rolling windows in the vigilance and sales tables: N, N-1, N-2, N-3 (MDCG 2022-21 Annex II/III). */
export const ROLLING_WINDOWS = 4;

/**
 * Regions of the MDCG 2022-21 tables: EEA + Türkiye + Northern Ireland, and worldwide (which includes them). The EEA is
 * the vigilance rules' own list of MDR countries (src/vigilance/reporting-clock-rules.ts).
 */
export const EEA_TR_XI: readonly string[] = [...JURISDICTION_COUNTRIES.EU, 'TR', 'XI'];

/** IMDRF annexes the PSUR tables present at minimum (MDCG 2022-21 Annex III): A, C, D, F (E/F health effects). */
export const PSUR_IMDRF_ANNEXES = ['A', 'C', 'D', 'E', 'F'] as const;

/** Version of the report content's shape; bump with any change to the builders' output. */
export const REPORT_SCHEMA_VERSION = 1;
