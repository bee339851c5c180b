declare module 'parse-prometheus-text-format' {
  /** Parses the Prometheus text exposition format; throws on a malformed line. */
  export default function parse(text: string): unknown[];
}
