import { BusyException } from './busy.exception';
import { AdmissionGate } from './admission-gate';

describe('AdmissionGate', () => {
  it('admits up to its capacity, refuses one more at once with a 503, and admits again when one ends', async () => {
    const gate = new AdmissionGate(2, 'busy; retry shortly');
    const releases: Array<() => void> = [];
    const hold = () =>
      gate.run(
        () =>
          new Promise<string>((resolve) => {
            releases.push(() => resolve('done'));
          }),
      );
    const first = hold();
    const second = hold();
    expect(gate.admitted).toBe(2);
    await expect(hold()).rejects.toMatchObject({ retryAfterSeconds: 5 });
    await expect(hold()).rejects.toBeInstanceOf(BusyException);
    await expect(hold()).rejects.toThrow('busy; retry shortly');
    releases[0]();
    await expect(first).resolves.toBe('done');
    expect(gate.admitted).toBe(1);
    const third = hold();
    expect(gate.admitted).toBe(2);
    releases[1]();
    releases[2]();
    await expect(Promise.all([second, third])).resolves.toEqual(['done', 'done']);
    expect(gate.admitted).toBe(0);
  });

  it('frees its place when the work fails', async () => {
    const gate = new AdmissionGate(1, 'busy');
    await expect(gate.run(() => Promise.reject(new Error('failed')))).rejects.toThrow('failed');
    await expect(gate.run(() => Promise.resolve(1))).resolves.toBe(1);
  });
});
