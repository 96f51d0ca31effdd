// Result files: a Markdown table per suite and an SVG bar chart, with the machine.
import fs from 'node:fs'
import os from 'node:os'

/** Where results go: bench/results/, or the directory in STATEKIT_RESULTS (a "before" run). */
export const RESULTS = process.env.STATEKIT_RESULTS ? new URL(`file://${process.env.STATEKIT_RESULTS.replace(/\/?$/, '/')}`) : new URL('../results/', import.meta.url)

export function machine() {
  const cpu = os.cpus()
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)] : NaN
}

export const fmt = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x >= 10 ? x.toFixed(1) : x.toFixed(2))

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
}

/** A horizontal bar chart of `rows` ([label, value]) as SVG text. */
export function svgBars(title, unit, rows) {
  const w = 760
  const barH = 18
  const left = 300
  const top = 40
  const h = top + rows.length * (barH + 6) + 20
  const max = Math.max(...rows.map(([, v]) => v), 1)
  const bars = rows
    .map(([label, v], i) => {
      const y = top + i * (barH + 6)
      const bw = Math.max(1, ((w - left - 110) * v) / max)
      const ours = /statekit/.test(label)
      return `<text x="${left - 8}" y="${y + 13}" text-anchor="end" font-size="12">${esc(label)}</text>` +
        `<rect x="${left}" y="${y}" width="${bw.toFixed(1)}" height="${barH}" fill="${ours ? '#d9480f' : '#868e96'}"/>` +
        `<text x="${left + bw + 6}" y="${y + 13}" font-size="12">${esc(fmt(v))}</text>`
    })
    .join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">\n` +
    `<rect width="100%" height="100%" fill="white"/>\n<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>\n` +
    `<text x="${w - 10}" y="22" font-size="12" text-anchor="end">${esc(unit)}</text>\n${bars}\n</svg>\n`
}

/** Writes `results/<suite>.md` and `results/<suite>.svg` (unless quick). */
export function writeSuite(suite, { title, intro, sections, chart, quick }) {
  const md = [`# ${title}`, '', `Machine: ${machine()}.`, '', intro, '', ...sections.flatMap((s) => [s, '']), chart ? `![${title}](${suite}.svg)` : ''].join('\n')
  if (!quick) {
    fs.mkdirSync(RESULTS, { recursive: true })
    fs.writeFileSync(new URL(`${suite}.md`, RESULTS), md.trimEnd() + '\n')
    if (chart) fs.writeFileSync(new URL(`${suite}.svg`, RESULTS), svgBars(chart.title, chart.unit, chart.rows))
  }
  process.stdout.write(md + '\n')
}

/** A Markdown table. */
export function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

/**
 * Records a suite's goals ([metric, measured, goal, met]) for `goals.md`, which
 * `run.mjs` assembles after a full run (not in quick mode), and returns them as a
 * Markdown section.
 */
export function goalSection(suite, goals, quick) {
  if (!quick) {
    fs.mkdirSync(RESULTS, { recursive: true })
    fs.writeFileSync(new URL(`goals-${suite}.json`, RESULTS), JSON.stringify(goals, null, 1) + '\n')
  }
  return '## Goals\n\n' + table(['metric', 'measured (median)', 'goal', 'met'], goals.map(([m, v, g, ok]) => [m, v, g, ok ? 'yes' : '**no**']))
}

/** Writes `results/goals.md` from the goal files of the suites that recorded one. */
export function writeGoals(suites) {
  const rows = []
  for (const s of suites) {
    const f = new URL(`goals-${s}.json`, RESULTS)
    if (!fs.existsSync(f)) continue
    for (const [m, v, g, ok] of JSON.parse(fs.readFileSync(f, 'utf8'))) rows.push([m, v, g, ok ? 'yes' : '**no**', s])
  }
  const md = ['# Goals', '', `Machine: ${machine()}.`, '', 'Ratios are statekit over the peer in the same run; medians. Reproduce: `npm run bench`.', '', table(['metric', 'measured (median)', 'goal', 'met', 'suite'], rows)].join('\n')
  fs.writeFileSync(new URL('goals.md', RESULTS), md + '\n')
}
