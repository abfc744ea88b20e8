// Drives the console in a real Chromium (Debian's) through playwright-core, as a visitor would:
// refused, signs in, follows the navigation, filters, opens a decision's "why", reads every
// page, simulates a policy and signs out. Prints what it saw as JSON and writes screenshots;
// the Rust test (tests/console.rs) asserts on both.
import { chromium } from 'playwright-core';

const base = process.env.ADMIT_URL;
const project = process.env.ADMIT_PROJECT;
const shots = process.env.SHOTS;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const r = {};
const shot = (name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
const texts = (sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));
const nav = (label) => Promise.all([page.waitForNavigation(), page.click(`nav a:text-is("${label}")`)]);

// An unauthenticated visitor is refused and offered the sign-in form.
let resp = await page.goto(`${base}/console/decisions?project=${project}`);
r.refusedStatus = resp.status();
r.refusedText = (await page.textContent('main')).trim();
r.loginForms = await page.locator('form.login input[name=token]').count();
r.refusedTableRows = await page.locator('#decisions tr').count();
await shot('refused');

// A wrong token is refused too.
await page.fill('form.login input[name=token]', 'not-a-token');
await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
r.wrongTokenText = (await page.textContent('main')).trim();

// Signed in: the overview, with its charts.
await page.fill('form.login input[name=token]', process.env.ADMIT_TOKEN);
await Promise.all([page.waitForNavigation(), page.click('form.login button')]);
r.afterLogin = new URL(page.url()).pathname;
r.who = (await page.textContent('header .who')).trim();
r.totals = await page.$$eval('[data-total]', (els) =>
  Object.fromEntries(els.map((e) => [e.dataset.total, Number(e.textContent)])));
r.overTime = await page.$$eval('#decisions-over-time rect.bar', (els) =>
  els.map((e) => ({ series: e.dataset.series, count: Number(e.dataset.count), height: Number(e.getAttribute('height')) })));
r.byNamespace = await page.$$eval('#violations-by-namespace rect.bar', (els) =>
  els.map((e) => ({ label: e.dataset.label, count: Number(e.dataset.count) })));
await shot('overview');

// Decisions, then filtered by verdict and by namespace.
await nav('Decisions');
r.allVerdicts = await page.$$eval('#decisions tr.decision [data-verdict]', (els) => els.map((e) => e.dataset.verdict));
await page.selectOption('select[name=verdict]', 'DENIED');
await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
r.deniedVerdicts = await page.$$eval('#decisions tr.decision [data-verdict]', (els) => els.map((e) => e.dataset.verdict));
r.deniedQuery = new URL(page.url()).search;
await page.fill('input[name=namespace]', 'dev');
await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
r.devRows = await texts('#decisions tr.decision td:nth-child(3)');
await page.fill('input[name=namespace]', '');
await page.fill('input[name=image]', 'api');
await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
r.imageRows = await texts('#decisions tr.decision td:nth-child(4)');
await shot('decisions-denied');

// The "why" of a denial.
await Promise.all([page.waitForNavigation(), page.click('#decisions a.why >> nth=0')]);
r.whySummary = (await page.textContent('#summary')).trim();
r.whyFailures = await texts('li.failure');
r.whyRule = await texts('#images tr.image td:nth-child(3)');
await shot('why');

// The "why" of an admission: what satisfied each attestor.
await nav('Decisions');
await page.selectOption('select[name=verdict]', 'ALLOWED');
await Promise.all([page.waitForNavigation(), page.click('form.filters button')]);
await Promise.all([page.waitForNavigation(), page.click('#decisions a.why >> nth=0')]);
r.whySatisfied = await texts('li.satisfied');
await shot('why-allowed');

// Continuous validation's violations and the breakglass uses.
await nav('Violations');
r.violating = await texts('#violating tr.violation td:nth-child(3)');
r.violationWhy = await texts('#violating tr.violation td:nth-child(5)');
r.breakglass = await texts('#breakglass tr.glass td:nth-child(3)');
r.violationBars = await page.$$eval('#violations-by-namespace rect.bar', (els) =>
  els.map((e) => ({ label: e.dataset.label, count: Number(e.dataset.count) })));
await shot('violations');

// Attestors, keys, attestations.
await nav('Attestors');
r.attestors = await page.$$eval('.attestor', (els) => els.map((e) => e.dataset.name));
r.keys = await texts('.attestor table.keys tr.key td:nth-child(1)');
r.attestations = await texts('.attestor table.attestations td:nth-child(1)');
await shot('attestors');

// The vulnerability picture of an image.
await nav('Images');
r.scanned = await texts('#scanned tr.image td:nth-child(1)');
await Promise.all([page.waitForNavigation(), page.click('#scanned a >> nth=0')]);
r.cves = await texts('#vulnerabilities tr.vulnerability td:nth-child(1)');
r.severityBars = await page.$$eval('#vulns-by-severity rect.bar', (els) =>
  els.map((e) => ({ label: e.dataset.label, count: Number(e.dataset.count) })));
await shot('image');

// The policy and its history.
await nav('Policy');
r.policy = await page.textContent('#policy');
r.history = await texts('#history tbody tr td:nth-child(3)');
await shot('policy');

// The simulator: allow everything, see what that would let in.
await nav('Simulate');
r.simulateDefault = await page.inputValue('textarea[name=policy]');
await page.fill('textarea[name=policy]', 'defaultAdmissionRule:\n  evaluationMode: ALWAYS_ALLOW\n  enforcementMode: ENFORCED_BLOCK_AND_AUDIT_LOG\n');
await Promise.all([page.waitForNavigation(), page.click('#simulate button')]);
r.newlyAllowedRunning = await texts('#running-allowed tr.change td:nth-child(2)');
r.newlyAllowedAdmissions = await texts('#admissions-allowed tr.change td:nth-child(2)');
await shot('simulate');
await page.fill('textarea[name=policy]', 'defaultAdmissionRule: [not, a, rule]\n');
await Promise.all([page.waitForNavigation(), page.click('#simulate button')]);
r.simulateError = (await page.textContent('#error')).trim();

// Signed out: refused again.
await Promise.all([page.waitForNavigation(), page.click('header .who button')]);
resp = await page.goto(`${base}/console?project=${project}`);
r.afterLogoutStatus = resp.status();

await browser.close();
console.log(JSON.stringify(r));
