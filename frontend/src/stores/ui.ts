/** Resident UI preferences: elder-friendly mode (适老化). */
import { ref, watch } from 'vue'
import { defineStore } from 'pinia'

const ELDER_KEY = 'yishi.elder'

export const useUiStore = defineStore('ui', () => {
  let initial = false
  try {
    initial = localStorage.getItem(ELDER_KEY) === '1'
  } catch {
    /* no storage */
  }
  const elder = ref(initial)
  watch(elder, (v) => {
    try {
      localStorage.setItem(ELDER_KEY, v ? '1' : '0')
    } catch {
      /* no storage */
    }
  })
  return { elder }
})
