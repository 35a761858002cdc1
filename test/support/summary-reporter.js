// Prints one closing line, "N passed, N failed, N skipped", that any CI log
// reader understands, after jest's own summary.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTodoTests: todo } = results;
    const failedSuites = results.numFailedTestSuites;
    if (failedSuites > 0 && failed === 0) {
      process.stdout.write(`\n${passed} passed, ${failedSuites} failed, ${skipped + todo} skipped\n`);
    } else {
      process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped + todo} skipped\n`);
    }
  }
}
