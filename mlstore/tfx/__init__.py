"""Speaking ML Metadata the way TFX does.

TFX (and Kubeflow pipelines built on it) own most MLMD databases mlstore meets. This
package holds what mlstore must agree on with TFX 1.16 to read those stores and to
write records TFX's resolvers and Pusher accept: the standard artifact types and their
exact type properties (:mod:`.records`), the step kind of an execution type given as a
class path, the meaning of each event type, the artifact layouts (:mod:`.layout`) and
TFMA's evaluation files (:mod:`.tfma`).
"""
