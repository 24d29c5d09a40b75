import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs, selectScenarios, USAGE, UsageError } from './args.js';
import { machineInfo, markdownReport, textReport } from './report.js';
import type { ScenarioResult } from './result.js';
import type { Scenario, ScenarioContext } from './scenario.js';
import { missingScenarios, scenarios } from './scenarios/index.js';

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const markdownPath = fileURLToPath(new URL('../RESULTS.md', import.meta.url));

function progressLine(): (text: string) => void {
  if (!process.stderr.isTTY) return () => undefined;
  return (text) => {
    const width = process.stderr.columns ?? 80;
    process.stderr.write(`\r\x1b[K${text.slice(0, width - 1)}`);
  };
}

function isScenarioResult(value: unknown): value is ScenarioResult {
  return (
    typeof value === 'object' &&
    value !== null &&
    'scenario' in value &&
    typeof value.scenario === 'string' &&
    'rows' in value &&
    Array.isArray(value.rows)
  );
}

/** Every results/*.json on disk, in scenario order. */
function storedResults(order: readonly string[]): ScenarioResult[] {
  const found: ScenarioResult[] = [];
  for (const file of readdirSync(resultsDir)) {
    if (!file.endsWith('.json')) continue;
    const value: unknown = JSON.parse(readFileSync(`${resultsDir}${file}`, 'utf8'));
    if (isScenarioResult(value)) found.push(value);
  }
  return found.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario));
}

async function runOne(
  scenario: Scenario,
  context: ScenarioContext,
  quick: boolean,
): Promise<ScenarioResult> {
  const startedAt = new Date().toISOString();
  const loadAverage1mStart = loadavg()[0] ?? 0;
  const start = performance.now();
  const output = await scenario.run(context);
  return {
    scenario: scenario.name,
    description: scenario.description,
    quick,
    startedAt,
    durationMs: performance.now() - start,
    loadAverage1mStart,
    machine: machineInfo(),
    rows: output.rows,
    notes: output.notes,
  };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  let selected: string[];
  const names = scenarios.map((scenario) => scenario.name);
  try {
    args = parseArgs(process.argv.slice(2));
    selected = selectScenarios(names, args.filters);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.list) {
    for (const scenario of scenarios)
      process.stdout.write(`${scenario.name}\t${scenario.description}\n`);
    return 0;
  }
  mkdirSync(resultsDir, { recursive: true });
  const progress = progressLine();
  const context: ScenarioContext = { quick: args.quick, progress, shared: new Map() };
  const results: ScenarioResult[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (const scenario of scenarios) {
    if (!selected.includes(scenario.name)) continue;
    progress(`${scenario.name}: starting`);
    try {
      const result = await runOne(scenario, context, args.quick);
      results.push(result);
      writeFileSync(`${resultsDir}${scenario.name}.json`, `${JSON.stringify(result, null, 2)}\n`);
      if (!args.json) {
        progress('');
        process.stdout.write(`${textReport([result])}\n\n`);
      }
    } catch (error) {
      progress('');
      failures.push(scenario.name);
      process.stderr.write(
        `scenario ${scenario.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
    }
  }
  progress('');
  const fullRun = !args.quick && args.filters.length === 0;
  if (args.writeMarkdown ?? fullRun) {
    writeFileSync(markdownPath, markdownReport(storedResults(names), missingScenarios));
  }
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else {
    process.stdout.write(
      `${results.length} scenario(s) in ${((performance.now() - started) / 1000).toFixed(1)} s${failures.length > 0 ? `; FAILED: ${failures.join(', ')}` : ''}\n`,
    );
  }
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    // Children and sockets are closed by each scenario; exit so a stray handle cannot hang CI.
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
