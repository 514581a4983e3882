export { default as PageState } from './PageState.vue'
export { default as TopicCard } from './TopicCard.vue'
