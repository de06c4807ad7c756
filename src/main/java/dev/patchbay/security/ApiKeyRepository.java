package dev.patchbay.security;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.data.jpa.repository.JpaRepository;

interface ApiKeyRepository extends JpaRepository<ApiKey, UUID> {

	Optional<ApiKey> findByKeyHash(String keyHash);

	boolean existsByRole(Role role);

	List<ApiKey> findAllByOrderByCreatedAt();

}
