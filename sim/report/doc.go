// Package report renders the results of a dispatch-sim run as one self-contained HTML document, so that an
// analyst can compare dispatch policies (the engine against a baseline, say) in any browser.
//
// Under the title it says how it was made (Data.Made: when, by which build, from which inputs) and the verdicts
// of checks such as the MDRP validator's (Data.Checks). It then shows, for every policy side by side:
//
//   - a summary table of the KPIs, policies as columns (counts as whole numbers, the other rows with the same
//     decimals for every policy), with a "Δ vs <second policy>" column coloured better or
//     worse when exactly two policies are compared;
//   - a small-multiples bar chart of the headline KPIs (the first four rows of the table);
//   - delivery against each order's own promise (slot promises included): a histogram of drop-off minus promise
//     with its cumulative share, whose value at zero is the table's "delivered by the promise";
//   - the click-to-door distribution: a histogram (share of delivered orders) in bins as wide as the span needs to
//     stay readable (1 to 10 minutes and more), with the cumulative share on a second axis and a dashed line at
//     the promise (Data.Target) when every order had that one;
//   - the orders waiting for a pick-up over the day, on a clock-time axis (or minutes since the start of the day,
//     Data.Elapsed, for MDRP instances);
//   - busy and online couriers over the day, and a histogram of the couriers' utilisation in 10 % bins;
//   - for runs that model the stores' side (Policy.Fulfilment): the backlog of orders accepted and not yet picked
//     up or collected over the day, with its overnight part, the orders in preparation and the stores' first
//     opening, and the orders no store could serve by reason.
//
// Every chart is an inline SVG drawn here, in Go, by a small internal chart helper (linear scales, axes with
// "nice" 1/2/5×10^k ticks, polylines, bars, legends), in the colour-blind-safe Okabe–Ito palette.
//
// Why no network: the report is opened on analysts' machines that are offline, attached to mails and archived
// next to the run that produced it. It therefore references nothing outside itself: the CSS is inline, the
// charts are inline SVG, the fonts are the system's, and there is no JavaScript at all. The only URL in the
// output is the SVG namespace name, which browsers never fetch.
//
// The output is deterministic: the same Data always renders to the same bytes (no clock, no map iteration,
// numbers printed with fixed precision), so reports can be diffed and checked in. All text taken from Data is
// escaped (html/template for the page, XML escaping inside the SVGs). Non-finite values (NaN, ±Inf) are left
// out of charts and shown as "n/a" in the table; empty inputs produce empty, labelled charts rather than errors.
package report
