// The output options every listing command shares (jobs, data ls, artifacts), as kubectl spells them:
// `-o wide|json`, `-q` for ids only; `--json` stays as the NDJSON alias of `-o json`.
import { type Command, Option } from 'commander';
import { type Listing, type ListingFormat, listingLines } from '../view/listing.js';
import { type GlobalOptions, outputMode, printJson, printLine } from './context.js';

export const listingFormats = ['wide', 'json'] as const;

export interface ListingOptions extends GlobalOptions {
  output?: (typeof listingFormats)[number];
  quiet?: boolean;
}

/** Adds `-o, --output`, `--json` and `-q, --quiet` to a listing command. */
export function withListingOptions(command: Command, noun: string): Command {
  return command
    .addOption(
      new Option('-o, --output <format>', 'wide: more columns; json: one JSON object per line').choices(
        listingFormats,
      ),
    )
    .option('--json', `one JSON object per ${noun} (as -o json)`)
    .option('-q, --quiet', `only the ${noun} ids, one per line`);
}

export function listingFormat(options: ListingOptions): ListingFormat {
  if (options.quiet) return 'ids';
  if (options.output === 'json' || outputMode(options) === 'json') return 'json';
  return options.output === 'wide' ? 'wide' : 'table';
}

export function printListing<T>(items: readonly T[], listing: Listing<T>, options: ListingOptions): void {
  const format = listingFormat(options);
  if (format === 'json') for (const i of items) printJson(i);
  else for (const line of listingLines(items, listing, format)) printLine(line);
}
