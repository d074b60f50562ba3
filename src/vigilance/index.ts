/**
 * Public API of the vigilance core: regulatory clocks (rules table, holiday calendars, deadlines, urgency) and IMDRF
 * code validation. Pure functions and data; the incidents service, its scheduler and configuration wire them in.
 */
export * from './calendar-dates';
export * from './csv';
export * from './deadlines';
export * from './holiday-calendars';
export * from './imdrf-codes';
export * from './reporting-clock-rules';
