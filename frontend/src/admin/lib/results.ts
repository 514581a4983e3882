/**
 * Topic results → table columns, rows and a stacked bar chart's series.
 * A choice is a stance (decisions, appraisals) or an option (choices); the
 * columns follow the topic's own options or the stances of its kind, so an
 * empty division still shows every column.
 */
import type { Stance, TopicKind } from '@/gql/graphql'

export interface Count {
  stance?: Stance | null
  optionId?: string | null
  label: string
  count: number
  share?: number | null
}

export interface ResultRow {
  divisionCode: string
  folded: boolean
  divisions: number
  total: number
  eligible: number
  participation?: number | null
  quorumMet?: boolean | null
  counts: readonly Count[]
  division?: { name: string } | null
}

export interface Column {
  key: string
  /** An i18n key (`enums.Stance.X`) or a literal label (options). */
  label: string
  literal: boolean
  /** Counts as dissent (oppose, unsatisfied). */
  dissent: boolean
}

export const STANCES: Record<TopicKind, Stance[]> = {
  DECISION: ['SUPPORT', 'OPPOSE', 'ABSTAIN'],
  APPRAISAL: ['SATISFIED', 'BASICALLY_SATISFIED', 'UNSATISFIED'],
  CHOICE: [],
  OPEN: [],
}

export const DISSENT: readonly Stance[] = ['OPPOSE', 'UNSATISFIED']

export function columns(kind: TopicKind, options: ReadonlyArray<{ id: string; label: string; position?: number }>): Column[] {
  if (kind === 'CHOICE') {
    return [...options]
      .sort((a, b) => (a.position ?? 0) - (b.position ?? 0))
      .map((o) => ({ key: `o${o.id}`, label: o.label, literal: true, dissent: false }))
  }
  return STANCES[kind].map((s) => ({ key: s, label: `enums.Stance.${s}`, literal: false, dissent: DISSENT.includes(s) }))
}

export function countKey(c: Count): string {
  return c.optionId ? `o${c.optionId}` : (c.stance ?? c.label)
}

/** Count of one column in a row (0 when missing). */
export function countOf(row: ResultRow, key: string): number {
  return row.counts.find((c) => countKey(c) === key)?.count ?? 0
}

export function shareOf(row: ResultRow, key: string): number | null {
  if (row.total === 0) return null
  return countOf(row, key) / row.total
}

/** Rows sorted: divisions whose majority dissents first, then by responses. */
export function sortRows<R extends ResultRow>(rows: readonly R[], dissenting: readonly string[]): R[] {
  const d = new Set(dissenting)
  return [...rows].sort(
    (a, b) => Number(d.has(b.divisionCode)) - Number(d.has(a.divisionCode)) || b.total - a.total || a.divisionCode.localeCompare(b.divisionCode),
  )
}

export interface ChartSeries {
  categories: string[]
  names: string[]
  values: number[][]
}

/** Stacked bars: one category per division (top `limit` by responses), one series per column. */
export function chartSeries(
  rows: readonly ResultRow[],
  cols: readonly Column[],
  label: (c: Column) => string,
  foldedName: string,
  limit = 30,
): ChartSeries {
  const top = [...rows].sort((a, b) => b.total - a.total).slice(0, limit).reverse()
  return {
    categories: top.map((r) => (r.folded ? `${foldedName} (${r.divisions})` : (r.division?.name ?? r.divisionCode))),
    names: cols.map(label),
    values: cols.map((c) => top.map((r) => countOf(r, c.key))),
  }
}

/** Dissenting responses in a row (oppose + unsatisfied). */
export function dissentCount(row: ResultRow): number {
  return row.counts.filter((c) => c.stance && DISSENT.includes(c.stance)).reduce((n, c) => n + c.count, 0)
}
