import { BadRequestException } from '@nestjs/common';

export interface Page<T> {
  total: number;
  items: T[];
  nextCursor: string | null;
}

/** Keyset position (sort timestamp + id tie-breaker): stable under inserts, unlike OFFSET. */
export interface CursorPosition {
  at: string;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id]), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): CursorPosition | null {
  if (!cursor) return null;
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(decoded) &&
      decoded.length === 2 &&
      typeof decoded[0] === 'string' &&
      typeof decoded[1] === 'string' &&
      !Number.isNaN(Date.parse(decoded[0])) &&
      /^[0-9a-f-]{36}$/i.test(decoded[1])
    ) {
      return { at: decoded[0], id: decoded[1] };
    }
  } catch {
    // fall through to the 400 below
  }
  throw new BadRequestException('cursor is not one this API issued; start again without it');
}

export const DEFAULT_PAGE_SIZE = 100;
