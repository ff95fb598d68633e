// Pages for the centre's staff: review, counter, shipping, batches, deadlines.

export {};
