import { it } from 'vitest';
import { run } from '/work/main/packages/statemachine/test/random.test.ts';
it("repro", async () => { await run(28, [{"t":"send","m":2},{"t":"spawn","node":3},{"t":"partition","cut":6},{"t":"crash","m":6},{"t":"send","m":0},{"t":"crash","m":1},{"t":"partition","cut":6},{"t":"advance","ms":1841},{"t":"send","m":2},{"t":"send","m":5},{"t":"send","m":3},{"t":"send","m":6},{"t":"spawn","node":1},{"t":"send","m":0},{"t":"settle"}] as never); });
