/* rules_types.c - the FHIR R4 element types that the rule engine (rules.c) needs to know the
 * data type of every node it visits.
 *
 * One string per type: a kind letter, the type's name, then its elements as name:Type.  Kinds:
 *   P  primitive type (no elements);
 *   C  complex data type (inherits Element: id, extension);
 *   B  backbone element, named Resource.path (inherits BackboneElement: id, extension,
 *      modifierExtension);
 *   R  resource (inherits DomainResource: id, meta, implicitRules, language, text, contained,
 *      extension, modifierExtension; Bundle inherits Resource only, which changes nothing that
 *      matters here);
 *   L  a list of resource types whose elements are not tabled: only the inherited ones are
 *      known, the rest is typed from the JSON shape (rules.c: fallback typing).
 * An element written name[x] is a choice: its JSON names are name + a type name (valueString,
 * effectiveDateTime), and the type is read off the suffix.  Elements of type Resource
 * (contained, Bundle.entry.resource) take the type named by the resource's resourceType.
 *
 * Sources: the FHIR R4 (4.0.1) specification's resource and data type pages.  Only the
 * resources that medfm sees in practice are tabled in full (the list the de-identification
 * plan names); docs/deid-rules.md lists the coverage.
 */
#include <stddef.h>

extern const char *const mf_deid_rules_type_table[];

const char *const mf_deid_rules_type_table[] = {
    /* primitive types */
    "P boolean",
    "P integer",
    "P string",
    "P decimal",
    "P uri",
    "P url",
    "P canonical",
    "P base64Binary",
    "P instant",
    "P date",
    "P dateTime",
    "P time",
    "P code",
    "P oid",
    "P id",
    "P markdown",
    "P unsignedInt",
    "P positiveInt",
    "P uuid",
    "P xhtml",

    /* complex data types */
    "C Element",
    "C Extension url:uri value[x]",
    "C Narrative status:code div:xhtml",
    "C Meta versionId:id lastUpdated:instant source:uri profile:canonical security:Coding "
    "tag:Coding",
    "C HumanName use:code text:string family:string given:string prefix:string suffix:string "
    "period:Period",
    "C Address use:code type:code text:string line:string city:string district:string "
    "state:string postalCode:string country:string period:Period",
    "C ContactPoint system:code value:string use:code rank:positiveInt period:Period",
    "C Identifier use:code type:CodeableConcept system:uri value:string period:Period "
    "assigner:Reference",
    "C Reference reference:string type:uri identifier:Identifier display:string",
    "C Annotation author[x] time:dateTime text:markdown",
    "C Attachment contentType:code language:code data:base64Binary url:url size:unsignedInt "
    "hash:base64Binary title:string creation:dateTime",
    "C Period start:dateTime end:dateTime",
    "C CodeableConcept coding:Coding text:string",
    "C Coding system:uri version:string code:code display:string userSelected:boolean",
    "C Quantity value:decimal comparator:code unit:string system:uri code:code",
    "C SimpleQuantity value:decimal comparator:code unit:string system:uri code:code",
    "C Age value:decimal comparator:code unit:string system:uri code:code",
    "C Count value:decimal comparator:code unit:string system:uri code:code",
    "C Distance value:decimal comparator:code unit:string system:uri code:code",
    "C Duration value:decimal comparator:code unit:string system:uri code:code",
    "C MoneyQuantity value:decimal comparator:code unit:string system:uri code:code",
    "C Money value:decimal currency:code",
    "C Range low:Quantity high:Quantity",
    "C Ratio numerator:Quantity denominator:Quantity",
    "C SampledData origin:Quantity period:decimal factor:decimal lowerLimit:decimal "
    "upperLimit:decimal dimensions:positiveInt data:string",
    "C Signature type:Coding when:instant who:Reference onBehalfOf:Reference targetFormat:code "
    "sigFormat:code data:base64Binary",
    "C Timing event:dateTime repeat:Timing.repeat code:CodeableConcept modifierExtension:Extension",
    "B Timing.repeat bounds[x] count:positiveInt countMax:positiveInt duration:decimal "
    "durationMax:decimal durationUnit:code frequency:positiveInt frequencyMax:positiveInt "
    "period:decimal periodMax:decimal periodUnit:code dayOfWeek:code timeOfDay:time when:code "
    "offset:unsignedInt",
    "C Dosage sequence:integer text:string additionalInstruction:CodeableConcept "
    "patientInstruction:string timing:Timing asNeeded[x] site:CodeableConcept "
    "route:CodeableConcept method:CodeableConcept doseAndRate:Dosage.doseAndRate "
    "maxDosePerPeriod:Ratio maxDosePerAdministration:Quantity maxDosePerLifetime:Quantity "
    "modifierExtension:Extension",
    "B Dosage.doseAndRate type:CodeableConcept dose[x] rate[x]",
    "C ContactDetail name:string telecom:ContactPoint",
    "C UsageContext code:Coding value[x]",
    "C RelatedArtifact type:code label:string display:string citation:markdown url:url "
    "document:Attachment resource:canonical",

    /* resources */
    "R Resource",
    "R DomainResource",
    "R Bundle identifier:Identifier type:code timestamp:instant total:unsignedInt "
    "link:Bundle.link entry:Bundle.entry signature:Signature",
    "B Bundle.link relation:string url:uri",
    "B Bundle.entry link:Bundle.link fullUrl:uri resource:Resource search:Bundle.entry.search "
    "request:Bundle.entry.request response:Bundle.entry.response",
    "B Bundle.entry.search mode:code score:decimal",
    "B Bundle.entry.request method:code url:uri ifNoneMatch:string ifModifiedSince:instant "
    "ifMatch:string ifNoneExist:string",
    "B Bundle.entry.response status:string location:uri etag:string lastModified:instant "
    "outcome:Resource",

    "R Binary contentType:code securityContext:Reference data:base64Binary",

    "R Patient identifier:Identifier active:boolean name:HumanName telecom:ContactPoint "
    "gender:code birthDate:date deceased[x] address:Address maritalStatus:CodeableConcept "
    "multipleBirth[x] photo:Attachment contact:Patient.contact "
    "communication:Patient.communication generalPractitioner:Reference "
    "managingOrganization:Reference link:Patient.link",
    "B Patient.contact relationship:CodeableConcept name:HumanName telecom:ContactPoint "
    "address:Address gender:code organization:Reference period:Period",
    "B Patient.communication language:CodeableConcept preferred:boolean",
    "B Patient.link other:Reference type:code",

    "R Practitioner identifier:Identifier active:boolean name:HumanName telecom:ContactPoint "
    "address:Address gender:code birthDate:date photo:Attachment "
    "qualification:Practitioner.qualification communication:CodeableConcept",
    "B Practitioner.qualification identifier:Identifier code:CodeableConcept period:Period "
    "issuer:Reference",

    "R PractitionerRole identifier:Identifier active:boolean period:Period "
    "practitioner:Reference organization:Reference code:CodeableConcept "
    "specialty:CodeableConcept location:Reference healthcareService:Reference "
    "telecom:ContactPoint availableTime:PractitionerRole.availableTime "
    "notAvailable:PractitionerRole.notAvailable availabilityExceptions:string "
    "endpoint:Reference",
    "B PractitionerRole.availableTime daysOfWeek:code allDay:boolean availableStartTime:time "
    "availableEndTime:time",
    "B PractitionerRole.notAvailable description:string during:Period",

    "R RelatedPerson identifier:Identifier active:boolean patient:Reference "
    "relationship:CodeableConcept name:HumanName telecom:ContactPoint gender:code "
    "birthDate:date address:Address photo:Attachment period:Period "
    "communication:RelatedPerson.communication",
    "B RelatedPerson.communication language:CodeableConcept preferred:boolean",

    "R Organization identifier:Identifier active:boolean type:CodeableConcept name:string "
    "alias:string telecom:ContactPoint address:Address partOf:Reference "
    "contact:Organization.contact endpoint:Reference",
    "B Organization.contact purpose:CodeableConcept name:HumanName telecom:ContactPoint "
    "address:Address",

    "R Location identifier:Identifier status:code operationalStatus:Coding name:string "
    "alias:string description:string mode:code type:CodeableConcept telecom:ContactPoint "
    "address:Address physicalType:CodeableConcept position:Location.position "
    "managingOrganization:Reference partOf:Reference "
    "hoursOfOperation:Location.hoursOfOperation availabilityExceptions:string "
    "endpoint:Reference",
    "B Location.position longitude:decimal latitude:decimal altitude:decimal",
    "B Location.hoursOfOperation daysOfWeek:code allDay:boolean openingTime:time "
    "closingTime:time",

    "R Encounter identifier:Identifier status:code statusHistory:Encounter.statusHistory "
    "class:Coding classHistory:Encounter.classHistory type:CodeableConcept "
    "serviceType:CodeableConcept priority:CodeableConcept subject:Reference "
    "episodeOfCare:Reference basedOn:Reference participant:Encounter.participant "
    "appointment:Reference period:Period length:Duration reasonCode:CodeableConcept "
    "reasonReference:Reference diagnosis:Encounter.diagnosis account:Reference "
    "hospitalization:Encounter.hospitalization location:Encounter.location "
    "serviceProvider:Reference partOf:Reference",
    "B Encounter.statusHistory status:code period:Period",
    "B Encounter.classHistory class:Coding period:Period",
    "B Encounter.participant type:CodeableConcept period:Period individual:Reference",
    "B Encounter.diagnosis condition:Reference use:CodeableConcept rank:positiveInt",
    "B Encounter.hospitalization preAdmissionIdentifier:Identifier origin:Reference "
    "admitSource:CodeableConcept reAdmission:CodeableConcept dietPreference:CodeableConcept "
    "specialCourtesy:CodeableConcept specialArrangement:CodeableConcept destination:Reference "
    "dischargeDisposition:CodeableConcept",
    "B Encounter.location location:Reference status:code physicalType:CodeableConcept "
    "period:Period",

    "R Condition identifier:Identifier clinicalStatus:CodeableConcept "
    "verificationStatus:CodeableConcept category:CodeableConcept severity:CodeableConcept "
    "code:CodeableConcept bodySite:CodeableConcept subject:Reference encounter:Reference "
    "onset[x] abatement[x] recordedDate:dateTime recorder:Reference asserter:Reference "
    "stage:Condition.stage evidence:Condition.evidence note:Annotation",
    "B Condition.stage summary:CodeableConcept assessment:Reference type:CodeableConcept",
    "B Condition.evidence code:CodeableConcept detail:Reference",

    "R Observation identifier:Identifier basedOn:Reference partOf:Reference status:code "
    "category:CodeableConcept code:CodeableConcept subject:Reference focus:Reference "
    "encounter:Reference effective[x] issued:instant performer:Reference value[x] "
    "dataAbsentReason:CodeableConcept interpretation:CodeableConcept note:Annotation "
    "bodySite:CodeableConcept method:CodeableConcept specimen:Reference device:Reference "
    "referenceRange:Observation.referenceRange hasMember:Reference derivedFrom:Reference "
    "component:Observation.component",
    "B Observation.referenceRange low:Quantity high:Quantity type:CodeableConcept "
    "appliesTo:CodeableConcept age:Range text:string",
    "B Observation.component code:CodeableConcept value[x] dataAbsentReason:CodeableConcept "
    "interpretation:CodeableConcept referenceRange:Observation.referenceRange",

    "R MedicationRequest identifier:Identifier status:code statusReason:CodeableConcept "
    "intent:code category:CodeableConcept priority:code doNotPerform:boolean reported[x] "
    "medication[x] subject:Reference encounter:Reference supportingInformation:Reference "
    "authoredOn:dateTime requester:Reference performer:Reference "
    "performerType:CodeableConcept recorder:Reference reasonCode:CodeableConcept "
    "reasonReference:Reference instantiatesCanonical:canonical instantiatesUri:uri "
    "basedOn:Reference groupIdentifier:Identifier courseOfTherapyType:CodeableConcept "
    "insurance:Reference note:Annotation dosageInstruction:Dosage "
    "dispenseRequest:MedicationRequest.dispenseRequest "
    "substitution:MedicationRequest.substitution priorPrescription:Reference "
    "detectedIssue:Reference eventHistory:Reference",
    "B MedicationRequest.dispenseRequest "
    "initialFill:MedicationRequest.dispenseRequest.initialFill dispenseInterval:Duration "
    "validityPeriod:Period numberOfRepeatsAllowed:unsignedInt quantity:Quantity "
    "expectedSupplyDuration:Duration performer:Reference",
    "B MedicationRequest.dispenseRequest.initialFill quantity:Quantity duration:Duration",
    "B MedicationRequest.substitution allowed[x] reason:CodeableConcept",

    "R MedicationAdministration identifier:Identifier instantiates:uri partOf:Reference "
    "status:code statusReason:CodeableConcept category:CodeableConcept medication[x] "
    "subject:Reference context:Reference supportingInformation:Reference effective[x] "
    "performer:MedicationAdministration.performer reasonCode:CodeableConcept "
    "reasonReference:Reference request:Reference device:Reference note:Annotation "
    "dosage:MedicationAdministration.dosage eventHistory:Reference",
    "B MedicationAdministration.performer function:CodeableConcept actor:Reference",
    "B MedicationAdministration.dosage text:string site:CodeableConcept route:CodeableConcept "
    "method:CodeableConcept dose:Quantity rate[x]",

    "R MedicationStatement identifier:Identifier basedOn:Reference partOf:Reference "
    "status:code statusReason:CodeableConcept category:CodeableConcept medication[x] "
    "subject:Reference context:Reference effective[x] dateAsserted:dateTime "
    "informationSource:Reference derivedFrom:Reference reasonCode:CodeableConcept "
    "reasonReference:Reference note:Annotation dosage:Dosage",

    "R Medication identifier:Identifier code:CodeableConcept status:code "
    "manufacturer:Reference form:CodeableConcept amount:Ratio "
    "ingredient:Medication.ingredient batch:Medication.batch",
    "B Medication.ingredient item[x] isActive:boolean strength:Ratio",
    "B Medication.batch lotNumber:string expirationDate:dateTime",

    "R Procedure identifier:Identifier instantiatesCanonical:canonical instantiatesUri:uri "
    "basedOn:Reference partOf:Reference status:code statusReason:CodeableConcept "
    "category:CodeableConcept code:CodeableConcept subject:Reference encounter:Reference "
    "performed[x] recorder:Reference asserter:Reference performer:Procedure.performer "
    "location:Reference reasonCode:CodeableConcept reasonReference:Reference "
    "bodySite:CodeableConcept outcome:CodeableConcept report:Reference "
    "complication:CodeableConcept complicationDetail:Reference followUp:CodeableConcept "
    "note:Annotation focalDevice:Procedure.focalDevice usedReference:Reference "
    "usedCode:CodeableConcept",
    "B Procedure.performer function:CodeableConcept actor:Reference onBehalfOf:Reference",
    "B Procedure.focalDevice action:CodeableConcept manipulated:Reference",

    "R Immunization identifier:Identifier status:code statusReason:CodeableConcept "
    "vaccineCode:CodeableConcept patient:Reference encounter:Reference occurrence[x] "
    "recorded:dateTime primarySource:boolean reportOrigin:CodeableConcept location:Reference "
    "manufacturer:Reference lotNumber:string expirationDate:date site:CodeableConcept "
    "route:CodeableConcept doseQuantity:Quantity performer:Immunization.performer "
    "note:Annotation reasonCode:CodeableConcept reasonReference:Reference isSubpotent:boolean "
    "subpotentReason:CodeableConcept education:Immunization.education "
    "programEligibility:CodeableConcept fundingSource:CodeableConcept "
    "reaction:Immunization.reaction protocolApplied:Immunization.protocolApplied",
    "B Immunization.performer function:CodeableConcept actor:Reference",
    "B Immunization.education documentType:string reference:uri publicationDate:dateTime "
    "presentationDate:dateTime",
    "B Immunization.reaction date:dateTime detail:Reference reported:boolean",
    "B Immunization.protocolApplied series:string authority:Reference "
    "targetDisease:CodeableConcept doseNumber[x] seriesDoses[x]",

    "R DiagnosticReport identifier:Identifier basedOn:Reference status:code "
    "category:CodeableConcept code:CodeableConcept subject:Reference encounter:Reference "
    "effective[x] issued:instant performer:Reference resultsInterpreter:Reference "
    "specimen:Reference result:Reference imagingStudy:Reference "
    "media:DiagnosticReport.media conclusion:string conclusionCode:CodeableConcept "
    "presentedForm:Attachment",
    "B DiagnosticReport.media comment:string link:Reference",

    "R DocumentReference masterIdentifier:Identifier identifier:Identifier status:code "
    "docStatus:code type:CodeableConcept category:CodeableConcept subject:Reference "
    "date:instant author:Reference authenticator:Reference custodian:Reference "
    "relatesTo:DocumentReference.relatesTo description:string "
    "securityLabel:CodeableConcept content:DocumentReference.content "
    "context:DocumentReference.context",
    "B DocumentReference.relatesTo code:code target:Reference",
    "B DocumentReference.content attachment:Attachment format:Coding",
    "B DocumentReference.context encounter:Reference event:CodeableConcept period:Period "
    "facilityType:CodeableConcept practiceSetting:CodeableConcept "
    "sourcePatientInfo:Reference related:Reference",

    "R CarePlan identifier:Identifier instantiatesCanonical:canonical instantiatesUri:uri "
    "basedOn:Reference replaces:Reference partOf:Reference status:code intent:code "
    "category:CodeableConcept title:string description:string subject:Reference "
    "encounter:Reference period:Period created:dateTime author:Reference "
    "contributor:Reference careTeam:Reference addresses:Reference supportingInfo:Reference "
    "goal:Reference activity:CarePlan.activity note:Annotation",
    "B CarePlan.activity outcomeCodeableConcept:CodeableConcept outcomeReference:Reference "
    "progress:Annotation reference:Reference detail:CarePlan.activity.detail",
    "B CarePlan.activity.detail kind:code instantiatesCanonical:canonical "
    "instantiatesUri:uri code:CodeableConcept reasonCode:CodeableConcept "
    "reasonReference:Reference goal:Reference status:code statusReason:CodeableConcept "
    "doNotPerform:boolean scheduled[x] location:Reference performer:Reference product[x] "
    "dailyAmount:Quantity quantity:Quantity description:string",

    "R CareTeam identifier:Identifier status:code category:CodeableConcept name:string "
    "subject:Reference encounter:Reference period:Period participant:CareTeam.participant "
    "reasonCode:CodeableConcept reasonReference:Reference managingOrganization:Reference "
    "telecom:ContactPoint note:Annotation",
    "B CareTeam.participant role:CodeableConcept member:Reference onBehalfOf:Reference "
    "period:Period",

    "R Claim identifier:Identifier status:code type:CodeableConcept subType:CodeableConcept "
    "use:code patient:Reference billablePeriod:Period created:dateTime enterer:Reference "
    "insurer:Reference provider:Reference priority:CodeableConcept "
    "fundsReserve:CodeableConcept related:Claim.related prescription:Reference "
    "originalPrescription:Reference payee:Claim.payee referral:Reference facility:Reference "
    "careTeam:Claim.careTeam supportingInfo:Claim.supportingInfo diagnosis:Claim.diagnosis "
    "procedure:Claim.procedure insurance:Claim.insurance accident:Claim.accident "
    "item:Claim.item total:Money",
    "B Claim.related claim:Reference relationship:CodeableConcept reference:Identifier",
    "B Claim.payee type:CodeableConcept party:Reference",
    "B Claim.careTeam sequence:positiveInt provider:Reference responsible:boolean "
    "role:CodeableConcept qualification:CodeableConcept",
    "B Claim.supportingInfo sequence:positiveInt category:CodeableConcept "
    "code:CodeableConcept timing[x] value[x] reason:CodeableConcept",
    "B Claim.diagnosis sequence:positiveInt diagnosis[x] type:CodeableConcept "
    "onAdmission:CodeableConcept packageCode:CodeableConcept",
    "B Claim.procedure sequence:positiveInt type:CodeableConcept date:dateTime procedure[x] "
    "udi:Reference",
    "B Claim.insurance sequence:positiveInt focal:boolean identifier:Identifier "
    "coverage:Reference businessArrangement:string preAuthRef:string "
    "claimResponse:Reference",
    "B Claim.accident date:date type:CodeableConcept location[x]",
    "B Claim.item sequence:positiveInt careTeamSequence:positiveInt "
    "diagnosisSequence:positiveInt procedureSequence:positiveInt "
    "informationSequence:positiveInt revenue:CodeableConcept category:CodeableConcept "
    "productOrService:CodeableConcept modifier:CodeableConcept programCode:CodeableConcept "
    "serviced[x] location[x] quantity:Quantity unitPrice:Money factor:decimal net:Money "
    "udi:Reference bodySite:CodeableConcept subSite:CodeableConcept encounter:Reference "
    "detail:Claim.item.detail",
    "B Claim.item.detail sequence:positiveInt revenue:CodeableConcept "
    "category:CodeableConcept productOrService:CodeableConcept modifier:CodeableConcept "
    "programCode:CodeableConcept quantity:Quantity unitPrice:Money factor:decimal net:Money "
    "udi:Reference subDetail:Claim.item.detail",

    "R ExplanationOfBenefit identifier:Identifier status:code type:CodeableConcept "
    "subType:CodeableConcept use:code patient:Reference billablePeriod:Period "
    "created:dateTime enterer:Reference insurer:Reference provider:Reference "
    "priority:CodeableConcept fundsReserveRequested:CodeableConcept "
    "fundsReserve:CodeableConcept related:Claim.related prescription:Reference "
    "originalPrescription:Reference payee:Claim.payee referral:Reference facility:Reference "
    "claim:Reference claimResponse:Reference outcome:code disposition:string "
    "preAuthRef:string preAuthRefPeriod:Period careTeam:Claim.careTeam "
    "supportingInfo:ExplanationOfBenefit.supportingInfo diagnosis:Claim.diagnosis "
    "procedure:Claim.procedure precedence:positiveInt "
    "insurance:ExplanationOfBenefit.insurance accident:Claim.accident "
    "item:ExplanationOfBenefit.item addItem:ExplanationOfBenefit.addItem "
    "adjudication:ExplanationOfBenefit.adjudication total:ExplanationOfBenefit.total "
    "payment:ExplanationOfBenefit.payment formCode:CodeableConcept form:Attachment "
    "processNote:ExplanationOfBenefit.processNote benefitPeriod:Period "
    "benefitBalance:ExplanationOfBenefit.benefitBalance",
    "B ExplanationOfBenefit.supportingInfo sequence:positiveInt category:CodeableConcept "
    "code:CodeableConcept timing[x] value[x] reason:Coding",
    "B ExplanationOfBenefit.insurance focal:boolean coverage:Reference preAuthRef:string",
    "B ExplanationOfBenefit.item sequence:positiveInt careTeamSequence:positiveInt "
    "diagnosisSequence:positiveInt procedureSequence:positiveInt "
    "informationSequence:positiveInt revenue:CodeableConcept category:CodeableConcept "
    "productOrService:CodeableConcept modifier:CodeableConcept programCode:CodeableConcept "
    "serviced[x] location[x] quantity:Quantity unitPrice:Money factor:decimal net:Money "
    "udi:Reference bodySite:CodeableConcept subSite:CodeableConcept encounter:Reference "
    "noteNumber:positiveInt adjudication:ExplanationOfBenefit.adjudication "
    "detail:ExplanationOfBenefit.item.detail",
    "B ExplanationOfBenefit.adjudication category:CodeableConcept reason:CodeableConcept "
    "amount:Money value:decimal",
    "B ExplanationOfBenefit.item.detail sequence:positiveInt revenue:CodeableConcept "
    "category:CodeableConcept productOrService:CodeableConcept modifier:CodeableConcept "
    "programCode:CodeableConcept quantity:Quantity unitPrice:Money factor:decimal net:Money "
    "udi:Reference noteNumber:positiveInt adjudication:ExplanationOfBenefit.adjudication "
    "subDetail:ExplanationOfBenefit.item.detail",
    "B ExplanationOfBenefit.addItem itemSequence:positiveInt detailSequence:positiveInt "
    "subDetailSequence:positiveInt provider:Reference productOrService:CodeableConcept "
    "modifier:CodeableConcept programCode:CodeableConcept serviced[x] location[x] "
    "quantity:Quantity unitPrice:Money factor:decimal net:Money bodySite:CodeableConcept "
    "subSite:CodeableConcept noteNumber:positiveInt "
    "adjudication:ExplanationOfBenefit.adjudication detail:ExplanationOfBenefit.item.detail",
    "B ExplanationOfBenefit.total category:CodeableConcept amount:Money",
    "B ExplanationOfBenefit.payment type:CodeableConcept adjustment:Money "
    "adjustmentReason:CodeableConcept date:date amount:Money identifier:Identifier",
    "B ExplanationOfBenefit.processNote number:positiveInt type:code text:string "
    "language:CodeableConcept",
    "B ExplanationOfBenefit.benefitBalance category:CodeableConcept excluded:boolean "
    "name:string description:string network:CodeableConcept unit:CodeableConcept "
    "term:CodeableConcept financial:ExplanationOfBenefit.benefitBalance.financial",
    "B ExplanationOfBenefit.benefitBalance.financial type:CodeableConcept allowed[x] used[x]",

    "R AllergyIntolerance identifier:Identifier clinicalStatus:CodeableConcept "
    "verificationStatus:CodeableConcept type:code category:code criticality:code "
    "code:CodeableConcept patient:Reference encounter:Reference onset[x] "
    "recordedDate:dateTime recorder:Reference asserter:Reference lastOccurrence:dateTime "
    "note:Annotation reaction:AllergyIntolerance.reaction",
    "B AllergyIntolerance.reaction substance:CodeableConcept manifestation:CodeableConcept "
    "description:string onset:dateTime severity:code exposureRoute:CodeableConcept "
    "note:Annotation",

    "R Goal identifier:Identifier lifecycleStatus:code achievementStatus:CodeableConcept "
    "category:CodeableConcept priority:CodeableConcept description:CodeableConcept "
    "subject:Reference start[x] target:Goal.target statusDate:date statusReason:string "
    "expressedBy:Reference addresses:Reference note:Annotation outcomeCode:CodeableConcept "
    "outcomeReference:Reference",
    "B Goal.target measure:CodeableConcept detail[x] due[x]",

    "R Device identifier:Identifier definition:Reference udiCarrier:Device.udiCarrier "
    "status:code statusReason:CodeableConcept distinctIdentifier:string manufacturer:string "
    "manufactureDate:dateTime expirationDate:dateTime lotNumber:string serialNumber:string "
    "deviceName:Device.deviceName modelNumber:string partNumber:string "
    "type:CodeableConcept specialization:Device.specialization version:Device.version "
    "property:Device.property patient:Reference owner:Reference contact:ContactPoint "
    "location:Reference url:uri note:Annotation safety:CodeableConcept parent:Reference",
    "B Device.udiCarrier deviceIdentifier:string issuer:uri jurisdiction:uri "
    "carrierAIDC:base64Binary carrierHRF:string entryType:code",
    "B Device.deviceName name:string type:code",
    "B Device.specialization systemType:CodeableConcept version:string",
    "B Device.version type:CodeableConcept component:Identifier value:string",
    "B Device.property type:CodeableConcept valueQuantity:Quantity "
    "valueCode:CodeableConcept",

    "R ImagingStudy identifier:Identifier status:code modality:Coding subject:Reference "
    "encounter:Reference started:dateTime basedOn:Reference referrer:Reference "
    "interpreter:Reference endpoint:Reference numberOfSeries:unsignedInt "
    "numberOfInstances:unsignedInt procedureReference:Reference "
    "procedureCode:CodeableConcept location:Reference reasonCode:CodeableConcept "
    "reasonReference:Reference note:Annotation description:string "
    "series:ImagingStudy.series",
    "B ImagingStudy.series uid:id number:unsignedInt modality:Coding description:string "
    "numberOfInstances:unsignedInt endpoint:Reference bodySite:Coding laterality:Coding "
    "specimen:Reference started:dateTime performer:ImagingStudy.series.performer "
    "instance:ImagingStudy.series.instance",
    "B ImagingStudy.series.performer function:CodeableConcept actor:Reference",
    "B ImagingStudy.series.instance uid:id sopClass:Coding number:unsignedInt title:string",

    "R Provenance target:Reference occurred[x] recorded:instant policy:uri "
    "location:Reference reason:CodeableConcept activity:CodeableConcept "
    "agent:Provenance.agent entity:Provenance.entity signature:Signature",
    "B Provenance.agent type:CodeableConcept role:CodeableConcept who:Reference "
    "onBehalfOf:Reference",
    "B Provenance.entity role:code what:Reference agent:Provenance.agent",

    "R SupplyDelivery identifier:Identifier basedOn:Reference partOf:Reference status:code "
    "patient:Reference type:CodeableConcept suppliedItem:SupplyDelivery.suppliedItem "
    "occurrence[x] supplier:Reference destination:Reference receiver:Reference",
    "B SupplyDelivery.suppliedItem quantity:Quantity item[x]",

    "R Coverage identifier:Identifier status:code type:CodeableConcept "
    "policyHolder:Reference subscriber:Reference subscriberId:string beneficiary:Reference "
    "dependent:string relationship:CodeableConcept period:Period payor:Reference "
    "class:Coverage.class order:positiveInt network:string "
    "costToBeneficiary:Coverage.costToBeneficiary subrogation:boolean contract:Reference",
    "B Coverage.class type:CodeableConcept value:string name:string",
    "B Coverage.costToBeneficiary type:CodeableConcept value[x] "
    "exception:Coverage.costToBeneficiary.exception",
    "B Coverage.costToBeneficiary.exception type:CodeableConcept period:Period",

    "R ServiceRequest identifier:Identifier instantiatesCanonical:canonical "
    "instantiatesUri:uri basedOn:Reference replaces:Reference requisition:Identifier "
    "status:code intent:code category:CodeableConcept priority:code doNotPerform:boolean "
    "code:CodeableConcept orderDetail:CodeableConcept quantity[x] subject:Reference "
    "encounter:Reference occurrence[x] asNeeded[x] authoredOn:dateTime requester:Reference "
    "performerType:CodeableConcept performer:Reference locationCode:CodeableConcept "
    "locationReference:Reference reasonCode:CodeableConcept reasonReference:Reference "
    "insurance:Reference supportingInfo:Reference specimen:Reference "
    "bodySite:CodeableConcept note:Annotation patientInstruction:string "
    "relevantHistory:Reference",

    /* every other FHIR R4 resource type: inherited elements only */
    "L Account ActivityDefinition AdverseEvent Appointment AppointmentResponse AuditEvent "
    "Basic BiologicallyDerivedProduct BodyStructure CapabilityStatement CatalogEntry "
    "ChargeItem ChargeItemDefinition ClaimResponse ClinicalImpression CodeSystem "
    "Communication CommunicationRequest CompartmentDefinition Composition ConceptMap "
    "Consent Contract CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue "
    "DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DocumentManifest "
    "EffectEvidenceSynthesis Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare "
    "EventDefinition Evidence EvidenceVariable ExampleScenario FamilyMemberHistory Flag "
    "GraphDefinition Group GuidanceResponse HealthcareService ImmunizationEvaluation "
    "ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage "
    "List Measure MeasureReport Media MedicationDispense MedicationKnowledge "
    "MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication "
    "MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction "
    "MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical "
    "MedicinalProductUndesirableEffect MessageDefinition MessageHeader MolecularSequence "
    "NamingSystem NutritionOrder ObservationDefinition OperationDefinition "
    "OperationOutcome OrganizationAffiliation Parameters Person PlanDefinition "
    "Questionnaire QuestionnaireResponse RequestGroup ResearchDefinition "
    "ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment "
    "RiskEvidenceSynthesis Schedule SearchParameter Slot Specimen SpecimenDefinition "
    "StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid "
    "SubstancePolymer SubstanceProtein SubstanceReferenceInformation "
    "SubstanceSourceMaterial SubstanceSpecification SupplyRequest Task "
    "TerminologyCapabilities TestReport TestScript ValueSet VerificationResult "
    "VisionPrescription",
    NULL,
};
