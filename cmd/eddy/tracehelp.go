package main

import "github.com/eddy-sh/eddy/internal/helptext"

// The help that eddy trace, eddy trace flows and eddy expect share or
// document their JSON with lives in internal/helptext.
const (
	traceJSONHelp     = helptext.TraceJSON
	flowsJSONHelp     = helptext.FlowsJSON
	traceConceptsHelp = helptext.TraceConcepts
	expectJSONHelp    = helptext.ExpectJSON
)
