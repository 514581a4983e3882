/** Results rows → chart series: one series per choice, one category per division. */

export interface CountLike {
  stance?: string | null
  optionId?: string | null
  label: string
  count: number
}

export interface RowLike {
  divisionCode: string
  folded: boolean
  divisions: number
  division?: { name: string } | null
  counts: ReadonlyArray<CountLike>
}

export interface ChoiceSeries {
  /** Division names, one per row. */
  categories: string[]
  /** Choice names, in first-seen order. */
  names: string[]
  /** values[choice][row] */
  values: number[][]
}

export function choiceSeries<R extends RowLike>(
  rows: ReadonlyArray<R>,
  labelOf: (c: CountLike) => string,
  rowName: (r: R) => string,
): ChoiceSeries {
  const keyOf = (c: CountLike) => c.stance ?? c.optionId ?? c.label
  const keys: string[] = []
  const names: string[] = []
  for (const r of rows)
    for (const c of r.counts) {
      const k = keyOf(c)
      if (!keys.includes(k)) {
        keys.push(k)
        names.push(labelOf(c))
      }
    }
  const values = keys.map((k) => rows.map((r) => r.counts.find((c) => keyOf(c) === k)?.count ?? 0))
  return { categories: rows.map(rowName), names, values }
}

export function percent(share: number | null | undefined): string {
  if (share === null || share === undefined || Number.isNaN(share)) return '—'
  return `${Math.round(share * 1000) / 10}%`
}
