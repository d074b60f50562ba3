import PDFDocument from 'pdfkit';
import type { Cell, ReportDocument, ReportTable } from './report-document';
import { reportFont } from './report-fonts';
import { RenderContext, sectionHeading } from './render-html';

const MARGIN = 50;
const FOOTER = 30;
const BODY_SIZE = 9.5;

/**
 * PDF/A-4 page layout: cover, table of contents with page numbers, the sections in order, tables, charts, page numbers
 * "Page i of n". The one embedded font carries Chinese and Latin glyphs (subset-embedded, so the file renders
 * anywhere). Reproducible: the metadata dates are the end of the data collection period, pdfkit's file ID derives
 * from them and its subset tags from the font, so the same document and version give the same bytes.
 */
export function renderPdf(document: ReportDocument, context: RenderContext): Promise<Buffer> {
  const font = reportFont();
  const fixedDate = new Date(`${document.period.to}T00:00:00Z`);
  const title = document.title.zh ? `${document.title.zh} / ${document.title.en}` : document.title.en;
  const pdf = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: MARGIN + FOOTER, left: MARGIN, right: MARGIN },
    bufferPages: true,
    autoFirstPage: true,
    compress: true,
    lang: document.documentType === 'nmpa-periodic-risk' ? 'zh-Hans' : 'en',
    displayTitle: true,
    info: {
      Title: `${title} — ${document.reference}`,
      Author: document.manufacturer,
      Subject: `${document.product.name} ${document.period.from} to ${document.period.to}, version ${context.version}`,
      Creator: 'Fieldwatch',
      Producer: 'Fieldwatch (pdfkit)',
      CreationDate: fixedDate,
      ModDate: fixedDate,
    },
  });
  pdf.registerFont('Body', font.path, font.family);
  pdf.font('Body');
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pdf.on('data', (chunk: Buffer) => chunks.push(chunk));
    pdf.on('end', () => resolve(Buffer.concat(chunks)));
    pdf.on('error', reject);
  });
  const width = pdf.page.width - 2 * MARGIN;

  // Cover
  pdf.fontSize(22).text(title, { align: 'center' });
  pdf.moveDown(1.5);
  pdf.fontSize(13);
  for (const line of [
    document.manufacturer,
    `${document.product.name} — Basic UDI-DI ${document.product.udiDi} — class ${document.product.riskClass}`,
    `Reference ${document.reference}`,
    `Version ${context.version}`,
    `Data collection period ${document.period.from} to ${document.period.to}`,
  ]) {
    pdf.text(line, { align: 'center' });
    pdf.moveDown(0.4);
  }

  // Table of contents: its page is reserved now and written once the sections' pages are known.
  pdf.addPage();
  const tocPage = pdf.bufferedPageRange().count - 1;
  const sectionPages: number[] = [];

  for (const section of document.sections) {
    pdf.addPage();
    sectionPages.push(pdf.bufferedPageRange().count - 1);
    const heading = sectionHeading(section);
    pdf.outline.addItem(heading);
    pdf.fontSize(15).fillColor('#000000');
    bold(pdf, heading, 0.3);
    pdf.fontSize(8).fillColor('#555555').text(section.source);
    pdf.moveDown(0.5);
    pdf.fillColor('#000000').fontSize(BODY_SIZE);
    for (const statement of section.statements) {
      if (statement.emphasis) {
        pdf.fontSize(BODY_SIZE + 1.5);
        bold(pdf, statement.text, 0.35);
        pdf.fontSize(BODY_SIZE);
      } else {
        pdf.text(statement.text);
      }
      pdf.moveDown(0.3);
    }
    for (const table of section.tables) drawTable(pdf, table, width);
    for (const figure of section.figures) {
      const png = context.charts.get(figure.id);
      if (!png) continue;
      const height = (width * 640) / 1200;
      if (pdf.y + height + 30 > pdf.page.height - pdf.page.margins.bottom) pdf.addPage();
      pdf.fontSize(BODY_SIZE + 0.5);
      bold(pdf, figure.title, 0.2);
      pdf.image(png, MARGIN, pdf.y + 4, { width });
      pdf.y += height + 12;
      pdf.x = MARGIN;
      pdf.fontSize(BODY_SIZE);
    }
  }

  const pages = pdf.bufferedPageRange().count;
  pdf.switchToPage(tocPage);
  pdf.x = MARGIN;
  pdf.y = MARGIN;
  pdf.fontSize(16);
  bold(pdf, 'Table of contents' + (document.title.zh ? ' / 目录' : ''), 0.3);
  pdf.moveDown(0.8);
  pdf.fontSize(11);
  document.sections.forEach((section, index) => {
    const y = pdf.y;
    const heading = sectionHeading(section);
    pdf.text(heading, MARGIN, y, { width: width - 50 });
    const after = pdf.y;
    pdf.text(String(sectionPages[index] + 1), MARGIN + width - 40, y, { width: 40, align: 'right' });
    pdf.y = after + 4;
  });

  for (let page = 0; page < pages; page++) {
    pdf.switchToPage(page);
    const bottom = pdf.page.margins.bottom;
    pdf.page.margins.bottom = 0;
    pdf
      .fontSize(8)
      .fillColor('#555555')
      .text(
        `${document.reference} · version ${context.version} · Page ${page + 1} of ${pages}`,
        MARGIN,
        pdf.page.height - MARGIN,
        { width, align: 'center', lineBreak: false },
      );
    pdf.page.margins.bottom = bottom;
  }
  pdf.end();
  return done;
}

/** The one font has no bold face: headings are drawn filled and stroked (a thin outline thickens the glyphs). */
function bold(pdf: PDFKit.PDFDocument, text: string, strokeWidth: number): void {
  pdf.save();
  pdf.lineWidth(strokeWidth);
  pdf.text(text, { fill: true, stroke: true });
  pdf.restore();
}

function cellText(cell: Cell): string {
  return cell === null ? '—' : String(cell);
}

/** A table with a header row repeated after each page break; column widths follow the longest text (bounded). */
function drawTable(pdf: PDFKit.PDFDocument, table: ReportTable, width: number): void {
  const size = table.columns.length > 6 ? 7 : 8;
  pdf.fontSize(BODY_SIZE + 0.5).fillColor('#000000');
  if (pdf.y + 60 > pdf.page.height - pdf.page.margins.bottom) pdf.addPage();
  pdf.x = MARGIN;
  bold(pdf, table.title, 0.2);
  pdf.moveDown(0.2);
  pdf.fontSize(size);
  const lengths = table.columns.map((column, index) =>
    Math.min(60, Math.max(column.length, ...table.rows.map((row) => cellText(row[index] ?? null).length), 4)),
  );
  const total = lengths.reduce((a, b) => a + b, 0);
  const widths = lengths.map((length) => (width * length) / total);
  const padding = 2;
  const rowHeight = (cells: string[]) =>
    Math.max(...cells.map((text, i) => pdf.heightOfString(text, { width: widths[i] - 2 * padding }))) +
    2 * padding;
  const drawRow = (cells: string[], header: boolean) => {
    const height = rowHeight(cells);
    if (pdf.y + height > pdf.page.height - pdf.page.margins.bottom) {
      pdf.addPage();
      if (!header) drawRow(table.columns, true);
    }
    const top = pdf.y;
    let x = MARGIN;
    cells.forEach((text, i) => {
      if (header) pdf.rect(x, top, widths[i], height).fillAndStroke('#eeeeee', '#999999');
      else pdf.rect(x, top, widths[i], height).stroke('#999999');
      pdf.fillColor('#000000').text(text, x + padding, top + padding, { width: widths[i] - 2 * padding });
      x += widths[i];
    });
    pdf.x = MARGIN;
    pdf.y = top + height;
  };
  drawRow(table.columns, true);
  if (table.rows.length === 0)
    drawRow([`None in the period.`, ...table.columns.slice(1).map(() => '')], false);
  for (const row of table.rows) drawRow(row.map(cellText), false);
  if (table.note) {
    pdf.moveDown(0.2);
    pdf.fontSize(7).fillColor('#555555').text(table.note, MARGIN, pdf.y, { width });
  }
  pdf.fillColor('#000000').fontSize(BODY_SIZE);
  pdf.moveDown(0.6);
}
