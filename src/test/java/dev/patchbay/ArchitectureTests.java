package dev.patchbay;

import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

import org.springframework.modulith.core.ApplicationModules;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

class ArchitectureTests {

	@Test
	void modulesDependOnEachOtherOnlyThroughTheirPublicTypesAndWithoutCycles() {
		ApplicationModules.of(PatchbayApplication.class).verify();
	}

	@Test
	void onlyTheEngineImportsDjl() {
		noClasses().that()
			.resideOutsideOfPackage("dev.patchbay.engine..")
			.should()
			.dependOnClassesThat()
			.resideInAPackage("ai.djl..")
			.allowEmptyShould(true)
			.check(new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
				.importPackages("dev.patchbay"));
	}

	@Test
	void nothingDependsOnTheApi() {
		noClasses().that()
			.resideOutsideOfPackage("dev.patchbay.api..")
			.should()
			.dependOnClassesThat()
			.resideInAPackage("dev.patchbay.api..")
			.check(new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
				.importPackages("dev.patchbay"));
	}

}
