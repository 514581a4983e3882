/**
 * The topic lifecycle as buttons. The API tells which states a topic can
 * move to next (`Topic.nextStates`); this module maps each of them to the
 * action (mutation) that gets there, says which need input first (an
 * outcome, a reason), and adds editing for drafts. Nothing is offered to
 * someone who may not manage the topic.
 *
 *   DRAFT → ANNOUNCED → OPEN → CLOSED → DECIDED → IMPLEMENTING → COMPLETED
 *   (WITHDRAWN from DRAFT, ANNOUNCED, OPEN or CLOSED)
 */
import type { TopicState } from '@/gql/graphql'

export type LifecycleAction =
  | 'edit'
  | 'announce'
  | 'open'
  | 'close'
  | 'decide'
  | 'startImplementation'
  | 'complete'
  | 'withdraw'

/** The action that moves a topic into each state. */
export const ACTION_INTO: Record<Exclude<TopicState, 'DRAFT'>, LifecycleAction> = {
  ANNOUNCED: 'announce',
  OPEN: 'open',
  CLOSED: 'close',
  DECIDED: 'decide',
  IMPLEMENTING: 'startImplementation',
  COMPLETED: 'complete',
  WITHDRAWN: 'withdraw',
}

/** The order of the main path, for the steps bar. */
export const MAIN_PATH: readonly TopicState[] = ['DRAFT', 'ANNOUNCED', 'OPEN', 'CLOSED', 'DECIDED', 'IMPLEMENTING', 'COMPLETED']

export interface LifecycleTopic {
  state: TopicState
  nextStates: readonly TopicState[]
  technical?: boolean
  assessments?: readonly unknown[]
  opensAt?: string | null
  closesAt?: string | null
}

export interface ActionButton {
  action: LifecycleAction
  /** What the action needs before it can be sent. */
  input: 'none' | 'confirm' | 'reason' | 'outcome'
  type: 'primary' | 'default' | 'danger'
  /** Why the button is disabled (an i18n key under admin.lifecycle.blocked), if it is. */
  blocked?: string
}

export function actionInto(state: TopicState): LifecycleAction | null {
  return state === 'DRAFT' ? null : ACTION_INTO[state]
}

/** The buttons for a topic, in display order (forward moves first, withdraw last). */
export function lifecycleActions(topic: LifecycleTopic, canManage: boolean): ActionButton[] {
  if (!canManage) return []
  const buttons: ActionButton[] = []
  if (topic.state === 'DRAFT') buttons.push({ action: 'edit', input: 'none', type: 'default' })
  for (const next of topic.nextStates) {
    const action = actionInto(next)
    if (!action) continue
    const button: ActionButton = {
      action,
      input: action === 'withdraw' ? 'reason' : action === 'decide' ? 'outcome' : 'confirm',
      type: action === 'withdraw' ? 'danger' : 'primary',
    }
    if (action === 'announce' && (!topic.opensAt || !topic.closesAt)) button.blocked = 'needsTimes'
    if (action === 'open' && topic.technical && (topic.assessments?.length ?? 0) === 0) {
      button.blocked = 'needsAssessment'
    }
    buttons.push(button)
  }
  const order: LifecycleAction[] = ['edit', 'announce', 'open', 'close', 'decide', 'startImplementation', 'complete', 'withdraw']
  return buttons.sort((a, b) => order.indexOf(a.action) - order.indexOf(b.action))
}

/** The step index of a state on the main path (-1 for WITHDRAWN). */
export function stepOf(state: TopicState): number {
  return MAIN_PATH.indexOf(state)
}

/** Outcome, progress and corrections exist once a topic is decided. */
export function isDecided(state: TopicState): boolean {
  return state === 'DECIDED' || state === 'IMPLEMENTING' || state === 'COMPLETED'
}

/** Opinions (and so results and dissent) exist from the opening on. */
export function hasOpinions(state: TopicState): boolean {
  return state === 'OPEN' || state === 'CLOSED' || isDecided(state)
}
