import { existsSync } from 'node:fs';

/**
 * Fonts embedded in the PDFs and used for the charts. One font with CJK and Latin glyphs, so the NMPA report's Chinese
 * headings render anywhere (the PDF embeds the subset it uses). Debian's fonts-wqy-microhei (installed by
 * scripts/ensure-deps.js when absent) or fonts-noto-cjk.
 */
const CJK_FONT_CANDIDATES = [
  { path: '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc', family: 'WenQuanYiMicroHei' },
  { path: '/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc', family: 'NotoSansCJKsc-Regular' },
  { path: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc', family: 'WenQuanYiZenHei' },
];

export interface ReportFont {
  path: string;
  /** PostScript name of the face inside the collection (.ttc), as pdfkit/fontkit select it. */
  family: string;
}

let found: ReportFont | null | undefined;

export function reportFont(): ReportFont {
  if (found === undefined)
    found = CJK_FONT_CANDIDATES.find((candidate) => existsSync(candidate.path)) ?? null;
  if (!found) {
    throw new Error(
      `No CJK font for the report renderer: install Debian's fonts-wqy-microhei (npm run reports:deps). Looked for ${CJK_FONT_CANDIDATES.map((c) => c.path).join(', ')}`,
    );
  }
  return found;
}
