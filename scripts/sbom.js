// `npm run sbom`: the CycloneDX SBOM of what production installs (npm ci --omit=dev), written to
// sbom/fieldwatch.cdx.json (FD&C Act §524B(b)(3); see security/README.md).
//
// It runs npm's built-in `npm sbom` from package-lock.json alone (no network, no node_modules needed)
// and keeps the components the lockfile marks as production. It does not use `npm sbom --omit=dev`:
// that drops production packages that a dev dependency also reaches (npm/cli#7909; here it loses
// @nestjs/common, @nestjs/core and ~190 others).
'use strict';

const { spawnSync } = require('node:child_process');
const { mkdirSync, readFileSync, writeFileSync, renameSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');

function fail(message) {
  console.error(`sbom: ${message}`);
  process.exit(1);
}

/** name@version → { optional } for every lockfile entry that a production install keeps. */
function productionPackages(lock) {
  const kept = new Map();
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path === '' || entry.dev === true || entry.link === true) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const ref = `${name}@${entry.version}`;
    const optional = entry.optional === true || entry.devOptional === true;
    kept.set(ref, { optional: (kept.get(ref)?.optional ?? true) && optional });
  }
  return kept;
}

function main() {
  const outputArgument = process.argv.indexOf('--output');
  const output =
    outputArgument > 0 ? process.argv[outputArgument + 1] : join(root, 'sbom', 'fieldwatch.cdx.json');
  const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));

  const npm = spawnSync(
    'npm',
    ['sbom', '--sbom-format', 'cyclonedx', '--sbom-type', 'application', '--package-lock-only', '--offline'],
    { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
  );
  if (npm.error) fail(`could not run npm: ${npm.error.message}`);
  if (npm.status !== 0) fail(`npm sbom exited with ${npm.status}:\n${npm.stderr}`);
  let bom;
  try {
    bom = JSON.parse(npm.stdout);
  } catch {
    fail('npm sbom did not print JSON');
  }
  if (bom.bomFormat !== 'CycloneDX' || !Array.isArray(bom.components))
    fail('npm sbom did not print a CycloneDX BOM');

  const production = productionPackages(lock);
  const components = bom.components
    .filter((component) => production.has(component['bom-ref']))
    .map((component) => ({
      ...component,
      scope: production.get(component['bom-ref']).optional ? 'optional' : 'required',
    }));
  const missing = [...production.keys()].filter((ref) => !components.some((c) => c['bom-ref'] === ref));
  if (missing.length > 0)
    fail(`production packages missing from npm's SBOM: ${missing.slice(0, 10).join(', ')}`);
  for (const component of components) {
    if (!component.purl || !component.version)
      fail(`component ${component['bom-ref']} lacks a purl or version`);
  }

  const rootRef = bom.metadata?.component?.['bom-ref'];
  const keptRefs = new Set([rootRef, ...components.map((component) => component['bom-ref'])]);
  // npm names the root component after the folder it runs in (a CI clone's folder, "main"…).
  bom.metadata.component = {
    ...bom.metadata.component,
    name: packageJson.name,
    version: packageJson.version,
  };
  bom.components = components;
  bom.dependencies = (bom.dependencies ?? [])
    .filter((dependency) => keptRefs.has(dependency.ref))
    .map((dependency) => ({
      ...dependency,
      dependsOn: (dependency.dependsOn ?? []).filter((ref) => keptRefs.has(ref)),
    }));

  mkdirSync(join(output, '..'), { recursive: true });
  const temporary = `${output}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(bom, null, 2)}\n`);
  renameSync(temporary, output);
  console.log(
    `sbom: CycloneDX ${bom.specVersion}, ${components.length} production components → ${relative(process.cwd(), output)}`,
  );
}

main();
