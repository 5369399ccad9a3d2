export { main } from './main.js';
export {
  serveLiveView,
  type LiveView,
  type LiveViewNode,
  type LiveViewOptions,
} from './live/serve-live-view.js';
