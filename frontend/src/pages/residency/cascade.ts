/**
 * The province → city → county → township → village cascader's data: each
 * level is loaded when its parent is picked (divisions(parentCode)), cached,
 * and attached to the tree the Vant cascader shows.
 */
import type { DivisionLevel } from '@/gql/graphql'

export interface DivisionNode {
  text: string
  value: string
  level: DivisionLevel
  /** Undefined = not loaded yet (a leaf has no children property at all). */
  children?: DivisionNode[]
}

export interface DivisionRow {
  code: string
  name: string
  level: DivisionLevel
}

export type FetchPage = (
  parentCode: string | null,
  after: string | null,
) => Promise<{ nodes: DivisionRow[]; hasNextPage: boolean; endCursor: string | null }>

export function toNode(d: DivisionRow): DivisionNode {
  // Villages are leaves; every other level gets children on demand.
  return d.level === 'VILLAGE' ? { text: d.name, value: d.code, level: d.level } : { text: d.name, value: d.code, level: d.level, children: [] }
}

export class DivisionTree {
  private readonly cache = new Map<string, Promise<DivisionNode[]>>()
  constructor(private readonly fetchPage: FetchPage) {}

  /** Every child of `parentCode` (all pages), once per code even when asked concurrently. */
  children(parentCode: string | null): Promise<DivisionNode[]> {
    const key = parentCode ?? ''
    let p = this.cache.get(key)
    if (!p) {
      p = (async () => {
        const out: DivisionNode[] = []
        let after: string | null = null
        for (let page = 0; page < 100; page++) {
          const res = await this.fetchPage(parentCode, after)
          out.push(...res.nodes.map(toNode))
          if (!res.hasNextPage || !res.endCursor) break
          after = res.endCursor
        }
        return out
      })()
      this.cache.set(key, p)
      // A failure is not cached: picking the parent again retries.
      p.catch(() => this.cache.delete(key))
    }
    return p
  }
}

/** Finds the node with `code` in the tree (depth-first). */
export function findNode(tree: DivisionNode[], code: string): DivisionNode | undefined {
  for (const n of tree) {
    if (n.value === code) return n
    if (n.children) {
      const found = findNode(n.children, code)
      if (found) return found
    }
  }
  return undefined
}

/** Puts loaded children under `code`; a parent with no children becomes a leaf. Returns whether it changed. */
export function attachChildren(tree: DivisionNode[], code: string, children: DivisionNode[]): boolean {
  const node = findNode(tree, code)
  if (!node) return false
  if (children.length === 0) delete node.children
  else node.children = children
  return true
}

/** A picked village completes the selection. */
export function isComplete(selected: ReadonlyArray<{ level: DivisionLevel }>): boolean {
  return selected.length > 0 && selected[selected.length - 1].level === 'VILLAGE'
}
