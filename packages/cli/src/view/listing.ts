// How a listing command's items become lines: columns, the extra ones of `-o wide`, ids for `-q`.
import { formatTable } from './format.js';

/** How a listing prints: its columns, and the extra ones `-o wide` adds. */
export interface Listing<T> {
  id(item: T): string;
  columns: string[];
  row(item: T): string[];
  wideColumns?: string[];
  wideRow?(item: T): string[];
  /** What to say when there is nothing (plain output only). */
  empty: string;
}

export type ListingFormat = 'table' | 'wide' | 'json' | 'ids';

/** The lines a listing prints in `format` (JSON records are the SDK's objects as they are). */
export function listingLines<T>(items: readonly T[], listing: Listing<T>, format: ListingFormat): string[] {
  if (format === 'ids') return items.map((i) => listing.id(i));
  if (format === 'json') return items.map((i) => JSON.stringify(i));
  if (items.length === 0) return [listing.empty];
  const wide = format === 'wide' && listing.wideRow;
  const header = wide ? [...listing.columns, ...(listing.wideColumns ?? [])] : listing.columns;
  const rows = items.map((i) =>
    wide ? [...listing.row(i), ...(listing.wideRow?.(i) ?? [])] : listing.row(i),
  );
  return formatTable(header, rows);
}
