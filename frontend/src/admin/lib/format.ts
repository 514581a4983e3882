/** Small display helpers shared by the admin pages. */

/** 0.4237 → "42.4%"; null/undefined → "—". */
export function pct(share: number | null | undefined, digits = 1): string {
  if (share === null || share === undefined || Number.isNaN(share)) return '—'
  return `${(share * 100).toFixed(digits)}%`
}

/** An ISO date-time in the user's locale and time zone, as the date pickers show it ("—" when absent). */
export function dateTime(iso: string | null | undefined, locale: string): string {
  if (!iso) return '—'
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return '—'
  return new Intl.DateTimeFormat(locale, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
  }).format(d)
}

/** The level of a division from the length of its short code. */
export function levelOfCode(code: string): 'PROVINCE' | 'CITY' | 'COUNTY' | 'TOWNSHIP' | 'VILLAGE' {
  switch (code.length) {
    case 2:
      return 'PROVINCE'
    case 4:
      return 'CITY'
    case 6:
      return 'COUNTY'
    case 9:
      return 'TOWNSHIP'
    default:
      return 'VILLAGE'
  }
}

/** The result levels an organiser of `scopeCode` can look at (the scope's own level and below). */
export function levelsBelow(scopeCode: string): Array<'COUNTY' | 'TOWNSHIP' | 'VILLAGE'> {
  const all = ['COUNTY', 'TOWNSHIP', 'VILLAGE'] as const
  const lvl = levelOfCode(scopeCode)
  const from = lvl === 'PROVINCE' || lvl === 'CITY' ? 0 : all.indexOf(lvl as (typeof all)[number])
  return all.slice(Math.max(0, from))
}
