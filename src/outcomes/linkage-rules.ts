/**
 * Linkage rules (DESIGN.md §4 and reference/ctffr-evidence.md §4.6), as data with their sources.
 * Changing a value changes which pairs count: record it in the report's configuration hash.
 */
export const LINKAGE_RULES = {
  /**
   * Longest CTA → invasive FFR interval for a valid pair. Protocol windows in the literature are
   * 60 days (NXT, DeFACTO), 90 days (Kawaguchi 2019; BMC 2023) and 3 months (Belgian DL study);
   * DESIGN.md §4 fixes 90 days as the default, configurable by FW_LINKAGE_WINDOW_DAYS.
   */
  defaultWindowDays: 90,
  /**
   * A revascularisation between the CTA and the wire measurement changes the vessel the wire
   * measures, so such a pair is invalid (ctffr-evidence.md §4.6). Events on the measurement's own
   * calendar day are not counted as intervening: sources often record procedures date-only, and the
   * PCI of that session follows the FFR measurement that justified it.
   */
  interveningRevascularizationEvents: ['pci', 'cabg', 'urgent_revascularization'] as const,
} as const;

export type LinkStatus = 'linked' | 'no_analysis_in_window' | 'intervening_revascularization' | 'superseded';
