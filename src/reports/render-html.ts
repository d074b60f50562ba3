import type { Cell, ReportDocument } from './report-document';

export interface RenderContext {
  version: number;
  /** PNG of each figure, by figure id. */
  charts: Map<string, Buffer>;
}

const escape = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const cellText = (cell: Cell): string =>
  cell === null ? '—' : typeof cell === 'number' ? String(cell) : cell;

export function sectionHeading(section: { number: string; title: string; titleZh?: string }): string {
  return section.titleZh
    ? `${section.number}. ${section.titleZh} / ${section.title}`
    : `${section.number}. ${section.title}`;
}

/**
 * Self-contained HTML (no external request: styles inline, charts as data: URIs), rendered only from the report JSON
 * and its version (draft or final is the API's record, signed at finalisation: the artefacts do not change then).
 * Deterministic: the same document and version give the same bytes.
 */
export function renderHtml(document: ReportDocument, context: RenderContext): string {
  const title = document.title.zh ? `${document.title.zh} / ${document.title.en}` : document.title.en;
  const lang = document.documentType === 'nmpa-periodic-risk' ? 'zh-Hans' : 'en';
  const toc = document.sections
    .map((s) => `<li><a href="#section-${escape(s.key)}">${escape(sectionHeading(s))}</a></li>`)
    .join('\n');
  const body = document.sections
    .map((section) => {
      const statements = section.statements
        .map((s) => (s.emphasis ? `<p><strong>${escape(s.text)}</strong></p>` : `<p>${escape(s.text)}</p>`))
        .join('\n');
      const tables = section.tables
        .map(
          (table) => `<table id="table-${escape(table.id)}"><caption>${escape(table.title)}</caption>
<thead><tr>${table.columns.map((c) => `<th>${escape(c)}</th>`).join('')}</tr></thead>
<tbody>${table.rows.length === 0 ? `<tr><td colspan="${table.columns.length}">None in the period.</td></tr>` : table.rows.map((row) => `<tr>${row.map((c) => `<td>${escape(cellText(c))}</td>`).join('')}</tr>`).join('\n')}</tbody></table>${table.note ? `<p class="note">${escape(table.note)}</p>` : ''}`,
        )
        .join('\n');
      const figures = section.figures
        .map((figure) => {
          const png = context.charts.get(figure.id);
          return `<figure id="figure-${escape(figure.id)}">${png ? `<img alt="${escape(figure.title)}" src="data:image/png;base64,${png.toString('base64')}">` : ''}<figcaption>${escape(figure.title)}</figcaption></figure>`;
        })
        .join('\n');
      return `<section id="section-${escape(section.key)}">
<h2>${escape(sectionHeading(section))}</h2>
<p class="source">${escape(section.source)}</p>
${statements}
${tables}
${figures}
</section>`;
    })
    .join('\n');
  return `<!DOCTYPE html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<title>${escape(title)} — ${escape(document.reference)}</title>
<style>
body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "DejaVu Sans", sans-serif; margin: 2em auto; max-width: 60em; color: #111; }
table { border-collapse: collapse; margin: 1em 0; width: 100%; font-size: 0.85em; }
caption { text-align: left; font-weight: bold; margin-bottom: 0.3em; }
th, td { border: 1px solid #999; padding: 0.25em 0.4em; vertical-align: top; }
th { background: #eee; }
figure img { max-width: 100%; }
.source, .note { color: #555; font-size: 0.85em; }
</style>
</head>
<body>
<header>
<h1>${escape(title)}</h1>
<p>${escape(document.manufacturer)} · ${escape(document.product.name)} (Basic UDI-DI ${escape(document.product.udiDi)}, class ${escape(document.product.riskClass)})</p>
<p>Reference ${escape(document.reference)} · version ${context.version} · data collection period ${escape(document.period.from)} to ${escape(document.period.to)}</p>
</header>
<nav><h2>Table of contents</h2><ol>
${toc}
</ol></nav>
${body}
</body>
</html>
`;
}
