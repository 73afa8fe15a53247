"""The Page Object Model of a journey's interactions, shared by the playwright-ui and
cypress-ui formats: `analysis.analyze_pom()` builds it from the pure functions of
`text`, `naming` and `selectors`; `multifile` joins and splits the files it becomes."""
