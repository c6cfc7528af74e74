// @peculiar/x509, loaded after the Reflect metadata API that tsyringe (which it resolves its parts with)
// needs when it loads: import it from here, never directly, so the order cannot be got wrong.
import 'reflect-metadata';

export * as x509 from '@peculiar/x509';
