import type { TopicState } from '@/gql/graphql'

export const STATE_FILTERS = ['active', 'OPEN', 'ANNOUNCED', 'done', 'all'] as const
export type StateFilter = (typeof STATE_FILTERS)[number]

/** The `states` argument of `topics` for a filter (null = every state). */
export function statesFor(f: StateFilter): TopicState[] | null {
  switch (f) {
    case 'active':
      return ['OPEN', 'ANNOUNCED']
    case 'OPEN':
      return ['OPEN']
    case 'ANNOUNCED':
      return ['ANNOUNCED']
    case 'done':
      return ['CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED']
    case 'all':
      return null
  }
}
