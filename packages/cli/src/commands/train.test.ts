// The training commands' options against the SDK's one statement of the spec: choices and defaults in
// --help come from it (nothing restated here or in train.ts), and a value outside the choices is a
// usage error before anything connects.
import { fitMethods, jobSpecDefaults } from '@gpulink/sdk';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerPredict } from './predict.js';
import { registerTrain } from './train.js';

function program(): Command {
  const root = new Command('gpulink')
    .exitOverride()
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerTrain(root);
  registerPredict(root);
  return root;
}

const help = (...path: string[]): string => {
  let cmd = program();
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name) as Command;
  return cmd.helpInformation().replaceAll(/\s+/g, ' ');
};

describe('gpulink train', () => {
  it("shows the agent's defaults and the fit methods in --help", () => {
    const vision = help('train', 'vision');
    expect(vision).toContain(`epochs to train (default: ${jobSpecDefaults.fit.epochs})`);
    expect(vision).toContain(`architecture (default: ${jobSpecDefaults.vision.arch})`);
    expect(vision).toContain(`image size in pixels (default: ${jobSpecDefaults.vision.imageSize})`);
    expect(vision).toContain(`(choices: ${fitMethods.map((m) => `"${m}"`).join(', ')})`);
    expect(help('train', 'tabular')).toContain(`batch size (default: ${jobSpecDefaults.fit.batchSize})`);
    expect(help('predict')).toContain(`(default: ${jobSpecDefaults.predict.topK})`);
  });

  it('refuses a fit method the contract does not have before connecting', async () => {
    const refused = await program()
      .parseAsync(['train', 'vision', './nowhere', '--fit', 'fit_two_cycles'], { from: 'user' })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CommanderError);
    expect(refused).toMatchObject({ code: 'commander.invalidArgument' });
    expect((refused as Error).message).toContain(`Allowed choices are ${fitMethods.join(', ')}`);
  });
});
