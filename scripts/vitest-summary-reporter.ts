import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * Adds two things to Vitest's own output: which integration suites were skipped (and why), and a plain
 * closing line `tests: N passed, N failed, N skipped` that any CI log reader understands.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const skippedIntegration: string[] = [];
    for (const mod of testModules) {
      let modPassed = 0;
      let modSkipped = 0;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') { passed++; modPassed++; }
        else if (state === 'failed') failed++;
        else { skipped++; modSkipped++; }
      }
      if (mod.state() === 'failed' && modPassed === 0 && modSkipped === 0) failed++;
      if (/\.integration\.test\.ts$/.test(mod.moduleId) && modSkipped > 0 && modPassed === 0) {
        skippedIntegration.push(relative(process.cwd(), mod.moduleId));
      }
    }
    if (skippedIntegration.length > 0) {
      const missing = [!process.env.DATABASE_URL && 'DATABASE_URL', !process.env.REDIS_URL && 'REDIS_URL'].filter(Boolean).join(' and ');
      console.log(`\nSkipped integration suites${missing ? ` (${missing} not set: they need a real PostgreSQL/Redis)` : ''}:`);
      for (const file of skippedIntegration) console.log(`  - ${file}`);
    }
    console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  }
}
